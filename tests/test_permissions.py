"""The permission matrix exactly as designed, and the password policy and lockout rule (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hmi.domain.passwords import PasswordRejected, check_password, lockout_remaining, lockout_seconds
from hmi.domain.permissions import (
    Action,
    PermissionDenied,
    Role,
    UnknownRole,
    allowed,
    matrix_markdown,
    parse_role,
    require,
)

# The design, written out independently of the module: one row per action, one column per role in
# this order: viewer, operator, shift_supervisor, maintenance_planner, production_planner,
# mes_manager, engineer, admin.
ROLES = ["viewer", "operator", "shift_supervisor", "maintenance_planner", "production_planner",
         "mes_manager", "engineer", "admin"]  # fmt: skip
DESIGN = {
    "view":            "XXXXXXXX",
    "ack_alarm":       ".XX...XX",
    "shelve_alarm":    "..X...XX",
    "suppress_alarm":  "......XX",
    "raise_andon":     ".XXX.XXX",
    "ack_andon":       ".XXX.X.X",
    "resolve_andon":   "..X....X",
    "create_order":    "....X..X",
    "release_order":   "....XX.X",
    "manage_capacity": ".....X.X",
    "review_risk":     "...X..XX",
    "train_model":     "......XX",
    "write_setpoint":  "......XX",
    "export_report":   "..XXXXXX",
    "view_audit":      "..X....X",
    "manage_users":    ".......X",
}  # fmt: skip


@dataclass
class U:
    name: str
    role: str


def test_roles_and_actions_are_the_designed_ones():
    assert [r.value for r in Role] == ROLES
    assert sorted(a.value for a in Action) == sorted(DESIGN)


@pytest.mark.parametrize("action", list(DESIGN))
@pytest.mark.parametrize("role", ROLES)
def test_matrix_cell(role, action):
    expected = DESIGN[action][ROLES.index(role)] == "X"
    assert allowed(role, Action(action)) is expected
    assert allowed(Role(role), Action(action)) is expected
    if expected:
        require(U("ann", role), Action(action))
    else:
        with pytest.raises(PermissionDenied):
            require(U("ann", role), Action(action))


def test_admin_can_do_everything_and_viewer_only_view():
    assert all(allowed(Role.ADMIN, a) for a in Action)
    assert [a for a in Action if allowed(Role.VIEWER, a)] == [Action.VIEW]


def test_unknown_role_may_do_nothing():
    assert not any(allowed("superuser", a) for a in Action)
    with pytest.raises(PermissionDenied):
        require(U("eve", "superuser"), Action.VIEW)


def test_denial_names_user_role_and_action():
    with pytest.raises(PermissionDenied) as err:
        require(U("olaf", "operator"), Action.WRITE_SETPOINT)
    assert str(err.value) == "olaf (operator) may not write setpoint"
    assert err.value.action is Action.WRITE_SETPOINT


def test_parse_role_lists_roles_when_unknown():
    assert parse_role("Shift-Supervisor") is Role.SHIFT_SUPERVISOR
    with pytest.raises(UnknownRole) as err:
        parse_role("boss")
    assert "boss" in str(err.value) and all(r in str(err.value) for r in ROLES)


def test_markdown_table_matches_design():
    lines = matrix_markdown().splitlines()
    assert lines[0] == "| action | " + " | ".join(ROLES) + " |"
    body = {cells[0]: cells[1:] for cells in ([c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:])}
    assert {a: "".join("X" if c == "✔" else "." for c in cells) for a, cells in body.items()} == DESIGN


# --- password policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Short1", "too short"),
        ("abcdefghijkl", "one kind"),
        ("1234567890123", "one kind"),
        ("xxMariaxx12", "user name"),
        ("Ab1" + "x" * 70, "too long: 73 bytes"),
        ("Pässwörd12" + "ä" * 31, "too long: 74 bytes"),
    ],
)
def test_policy_rejects_with_reason(password, why):
    with pytest.raises(PasswordRejected) as err:
        check_password(password, "maria")
    assert why in str(err.value)
    assert password not in str(err.value)


@pytest.mark.parametrize("password", ["correct horse 42", "Ab1" + "x" * 69, "Zählerstand9"])
def test_policy_accepts(password):
    check_password(password, "maria")


# --- lockout back-off ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "seconds"), [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (50, 900)]
)
def test_lockout_backoff(failures, seconds):
    assert lockout_seconds(failures) == seconds


def test_lockout_remaining():
    assert lockout_remaining(4, 100.0, 100.0) == 0
    assert lockout_remaining(5, 100.0, 100.0) == 30
    assert lockout_remaining(5, 100.0, 129.5) == 0.5
    assert lockout_remaining(5, 100.0, 130.0) == 0
    assert lockout_remaining(6, 100.0, 101.0) == 59
    assert lockout_remaining(5, None, 0.0) == 0


def test_readme_prints_the_matrix():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert matrix_markdown() in readme
