"""The one permission matrix: which role may do which action. Every domain service calls `require`.

A disabled button in the GUI is a convenience; the check is here. The README prints this matrix
(`matrix_markdown()`), so change it here and regenerate that table in the same change.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol


class Role(str, Enum):
    """Roles of the control room (from the seeds: ERP owner, MES manager, shopfloor user; admin ... viewer)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    SHIFT_SUPERVISOR = "shift_supervisor"
    MAINTENANCE_PLANNER = "maintenance_planner"
    PRODUCTION_PLANNER = "production_planner"  # the ERP owner: creates and releases orders
    MES_MANAGER = "mes_manager"  # shopfloor capacities, heartbeats, order distribution
    ENGINEER = "engineer"
    ADMIN = "admin"


class Action(str, Enum):
    """Everything a user can ask the HMI to do."""

    VIEW = "view"
    ACK_ALARM = "ack_alarm"
    SHELVE_ALARM = "shelve_alarm"  # shelve and unshelve
    SUPPRESS_ALARM = "suppress_alarm"  # suppress, take out of service, return to service
    RAISE_ANDON = "raise_andon"
    ACK_ANDON = "ack_andon"
    RESOLVE_ANDON = "resolve_andon"
    CREATE_ORDER = "create_order"
    RELEASE_ORDER = "release_order"
    MANAGE_CAPACITY = "manage_capacity"
    REVIEW_RISK = "review_risk"
    TRAIN_MODEL = "train_model"
    WRITE_SETPOINT = "write_setpoint"
    EXPORT_REPORT = "export_report"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"


A = Action
_MATRIX: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({A.VIEW}),
    Role.OPERATOR: frozenset({A.VIEW, A.ACK_ALARM, A.RAISE_ANDON, A.ACK_ANDON}),
    Role.SHIFT_SUPERVISOR: frozenset(
        {A.VIEW, A.ACK_ALARM, A.SHELVE_ALARM, A.RAISE_ANDON, A.ACK_ANDON, A.RESOLVE_ANDON, A.EXPORT_REPORT,
         A.VIEW_AUDIT}
    ),
    Role.MAINTENANCE_PLANNER: frozenset({A.VIEW, A.RAISE_ANDON, A.ACK_ANDON, A.REVIEW_RISK, A.EXPORT_REPORT}),
    Role.PRODUCTION_PLANNER: frozenset({A.VIEW, A.CREATE_ORDER, A.RELEASE_ORDER, A.EXPORT_REPORT}),
    Role.MES_MANAGER: frozenset(
        {A.VIEW, A.RELEASE_ORDER, A.MANAGE_CAPACITY, A.RAISE_ANDON, A.ACK_ANDON, A.EXPORT_REPORT}
    ),
    Role.ENGINEER: frozenset(
        {
            A.VIEW, A.ACK_ALARM, A.SHELVE_ALARM, A.SUPPRESS_ALARM, A.RAISE_ANDON, A.REVIEW_RISK, A.TRAIN_MODEL,
            A.WRITE_SETPOINT, A.EXPORT_REPORT,
        }  # fmt: skip
    ),
    Role.ADMIN: frozenset(Action),
}
del A


class PermissionDenied(Exception):
    """A user asked for an action their role does not allow."""

    def __init__(self, user: str, role: str, action: Action) -> None:
        super().__init__(f"{user} ({role}) may not {action.value.replace('_', ' ')}")
        self.user, self.role, self.action = user, role, action


class UnknownRole(ValueError):
    """A role name that is not in the matrix; the message lists the roles."""


class Principal(Protocol):
    """Whoever acts: anything with a name and a role (a logged-in user, a session)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


def role_name(user: Principal) -> str:
    """The principal's role as stored and shown (a Role's value, or the text as given)."""
    return str(getattr(user.role, "value", user.role))


def role_names() -> list[str]:
    """Every role, least privileged first, as stored and typed on the command line."""
    return [r.value for r in Role]


def parse_role(text: str) -> Role:
    """The Role for a name such as 'shift_supervisor' (or 'shift-supervisor'); UnknownRole otherwise."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Role(key)
    except ValueError:
        raise UnknownRole(f"unknown role {text!r}; roles are: {', '.join(role_names())}") from None


def allowed(role: Role | str, action: Action) -> bool:
    """Whether ``role`` may do ``action``; an unknown role may do nothing."""
    try:
        r = role if isinstance(role, Role) else Role(role)
    except ValueError:
        return False
    return action in _MATRIX[r]


def actions_of(role: Role | str) -> frozenset[Action]:
    """What ``role`` may do."""
    return frozenset(a for a in Action if allowed(role, a))


def require(user: Principal, action: Action) -> None:
    """Raise PermissionDenied unless ``user``'s role allows ``action``."""
    if not allowed(user.role, action):
        raise PermissionDenied(user.name, role_name(user), action)


def matrix_markdown() -> str:
    """The matrix as a Markdown table (roles as columns, actions as rows), for the README."""
    roles = list(Role)
    lines = [
        "| action | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for action in Action:
        cells = ("✔" if action in _MATRIX[r] else "–" for r in roles)
        lines.append(f"| {action.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
