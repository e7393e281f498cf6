"""Users on real SQLite files: the user services (audited), the lockout with an injected clock, and `hmi user`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from hmi.domain.passwords import PasswordRejected
from hmi.domain.permissions import PermissionDenied, UnknownRole
from hmi.domain.session import SessionUser
from hmi.services import user_admin
from hmi.services.commands import CommandService
from hmi.store import audit, users
from hmi.store.db import make_engine

PW = "Control room 42"
PW2 = "New secret 77"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def as_user(engine, name: str = "root", role: str = "admin") -> CommandService:
    return CommandService(engine, lambda: SessionUser(name, role), workstation="ws-test")


class Admin:
    """The user services as an admin would call them (so the store tests read as before)."""

    def __init__(self, engine) -> None:
        self.c = as_user(engine)

    def __getattr__(self, verb: str):
        fn = getattr(user_admin, verb)
        return lambda *a, **kw: fn(self.c, *a, **kw)


@pytest.fixture
def admin(engine):
    return Admin(engine)


def hmi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi.cli", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def db_rows(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def db_dump(db_path) -> bytes:
    """Every byte of the SQLite file and its WAL, to search for a clear-text password."""
    data = b""
    for suffix in ("", "-wal"):
        p = db_path.with_name(db_path.name + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


# --- store services ---------------------------------------------------------------------------


def test_add_stores_a_bcrypt_hash_and_verifies(engine, admin):
    clock = Clock()
    u = admin.add_user("anna", "admin", PW, now=clock)
    assert (u.name, u.role, u.enabled, u.failed_logins, u.created_at) == ("anna", "admin", True, 0, T0)
    (pw_hash,) = db_rows(engine, "SELECT password_hash FROM users WHERE name = 'anna'")[0]
    assert pw_hash.startswith("$2b$12$") and PW not in pw_hash
    assert users.verify_login(engine, "anna", PW, now=clock).role == "admin"


def test_refusals_are_clear(engine, admin):
    admin.add_user("anna", "admin", PW)
    with pytest.raises(users.UserExists, match="already exists"):
        admin.add_user("anna", "viewer", PW2)
    with pytest.raises(UnknownRole, match="roles are: viewer, operator"):
        admin.add_user("bob", "boss", PW2)
    with pytest.raises(PasswordRejected, match="73 bytes"):
        admin.add_user("bob", "viewer", "Ab1" + "x" * 70)
    with pytest.raises(users.UnknownUser):
        admin.disable("nobody")
    with pytest.raises(users.LastAdmin):
        admin.disable("anna")
    with pytest.raises(users.LastAdmin):
        admin.set_role("anna", "viewer")
    assert [u.name for u in admin.list_users()] == ["anna"]


def test_an_actor_needs_manage_users_and_every_change_is_audited(engine, admin):
    with pytest.raises(PermissionDenied, match=r"olaf \(operator\) may not manage users"):
        user_admin.add_user(as_user(engine, "olaf", "operator"), "bob", "viewer", PW2)
    user_admin.add_user(as_user(engine, "anna", "admin"), "bob", "viewer", PW2)
    admin.set_role("bob", "operator")
    admin.disable("bob")
    admin.reset_password("bob", PW)
    with pytest.raises(users.UnknownUser):
        admin.disable("nobody")
    rows = [(r.entry.user, r.entry.action, r.entry.target, r.entry.result, r.entry.old_value, r.entry.new_value)
            for r in audit.query(engine, audit.AuditQuery(newest_first=False))]
    assert rows[:5] == [
        ("olaf", "manage_users", "user bob", "denied", None, None),
        ("anna", "manage_users", "user bob", "ok", None, "role=viewer"),
        ("root", "manage_users", "user bob", "ok", "role=viewer", "role=operator"),
        ("root", "manage_users", "user bob", "ok", "enabled", "disabled"),
        ("root", "manage_users", "user bob", "ok", None, None),
    ]
    assert rows[5][3] == "refused" and audit.verify(engine).intact  # no such user: the request is refused
    assert not [r for r in audit.query(engine) if PW in repr(r) or PW2 in repr(r)]


def test_five_wrong_passwords_lock_with_backoff(engine, admin):
    clock = Clock()
    admin.add_user("otto", "operator", PW, now=clock)
    for i in range(5):
        clock.t = T0 + i
        with pytest.raises(users.LoginFailed, match="wrong user name or password"):
            users.verify_login(engine, "otto", "wrong password 1", now=clock)
    assert users.get_user(engine, "otto").locked_until == T0 + 4 + 30
    clock.t = T0 + 5  # the right password while locked: refused, not counted
    with pytest.raises(users.AccountLocked, match="locked .* try again in 29 s"):
        users.verify_login(engine, "otto", PW, now=clock)
    assert users.get_user(engine, "otto").failed_logins == 5
    clock.t = T0 + 4 + 30  # the lock is over: a 6th wrong password locks for 60 s
    with pytest.raises(users.LoginFailed):
        users.verify_login(engine, "otto", "wrong password 1", now=clock)
    assert users.get_user(engine, "otto").locked_until == T0 + 34 + 60
    clock.t = T0 + 34 + 59
    with pytest.raises(users.AccountLocked):
        users.verify_login(engine, "otto", PW, now=clock)
    clock.t = T0 + 34 + 60
    assert users.verify_login(engine, "otto", PW, now=clock).name == "otto"
    u = users.get_user(engine, "otto")
    assert (u.failed_logins, u.locked_until) == (0, None)


def test_disabled_unknown_and_overlong(engine, admin):
    admin.add_user("anna", "admin", PW)
    admin.add_user("vera", "viewer", PW2)
    admin.disable("vera")
    with pytest.raises(users.AccountDisabled, match="vera is disabled"):
        users.verify_login(engine, "vera", PW2)
    with pytest.raises(users.LoginFailed, match="wrong user name or password"):
        users.verify_login(engine, "ghost", PW2)
    with pytest.raises(users.LoginFailed):  # no bcrypt crash on a 73-byte guess
        users.verify_login(engine, "anna", "x" * 73)
    admin.enable("vera")
    assert users.verify_login(engine, "vera", PW2).role == "viewer"


def test_reset_password_clears_the_lock(engine, admin):
    clock = Clock()
    admin.add_user("otto", "operator", PW, now=clock)
    for _ in range(5):
        with pytest.raises(users.LoginFailed):
            users.verify_login(engine, "otto", "wrong password 1", now=clock)
    admin.reset_password("otto", PW2, now=clock)
    assert users.verify_login(engine, "otto", PW2, now=clock).name == "otto"
    with pytest.raises(users.LoginFailed):
        users.verify_login(engine, "otto", PW, now=clock)


# --- the command line --------------------------------------------------------------------------


def test_cli_user_lifecycle(tmp_path, db_url):
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None, ok: bool = True, who: tuple = ("--user", "anna")) -> subprocess.CompletedProcess[str]:
        r = hmi("user", *args, *who, "--db", db_url, stdin=stdin)
        outputs.append(r.stdout + r.stderr)
        assert (r.returncode == 0) is ok, r.stderr
        if not ok:
            assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
        return r

    def as_anna(*lines: str) -> str:
        return "\n".join((PW, *lines)) + "\n"

    err = run("add", "anna", "--role", "operator", "--password-stdin", stdin=PW + "\n", ok=False, who=()).stderr
    assert "the first user must be an admin" in err
    r = run("add", "anna", "--role", "admin", "--password-stdin", stdin=PW + "\n", who=())
    assert "added anna (admin)" in r.stdout
    assert "say who acts: --user NAME" in run("add", "otto", "--role", "viewer", "--password-stdin", stdin=PW2, ok=False, who=()).stderr
    run("add", "otto", "--role", "operator", "--password-stdin", stdin=as_anna(PW2))
    assert "already exists" in run("add", "otto", "--role", "viewer", "--password-stdin", stdin=as_anna(PW2), ok=False).stderr
    err = run("add", "bob", "--role", "boss", "--password-stdin", stdin=as_anna(PW2), ok=False).stderr
    assert "unknown role 'boss'" in err and "shift_supervisor" in err and "production_planner" in err
    long_pw = "Ab1" + "x" * 70
    err = run("add", "bob", "--role", "viewer", "--password-stdin", stdin=as_anna(long_pw), ok=False).stderr
    assert "password is too long: 73 bytes in UTF-8, at most 72" in err
    assert "too short" in run("add", "bob", "--role", "viewer", "--password-stdin", stdin=as_anna("Ab1"), ok=False).stderr
    assert "one kind" in run("add", "bob", "--role", "viewer", "--password-stdin", stdin=as_anna("a" * 12), ok=False).stderr
    err = run("disable", "anna", stdin=PW2 + "\n", ok=False, who=("--user", "otto")).stderr
    assert "otto (operator) may not manage users" in err
    err = run("list", stdin="Wrong pass 11\n", ok=False).stderr
    assert "login of anna refused: wrong user name or password" in err

    run("disable", "otto", stdin=as_anna())
    run("set-role", "otto", "shift-supervisor", stdin=as_anna())
    assert "last enabled admin" in run("disable", "anna", stdin=as_anna(), ok=False).stderr
    assert "no user named 'ghost'" in run("enable", "ghost", stdin=as_anna(), ok=False).stderr
    listing = run("list", stdin=as_anna()).stdout.splitlines()
    assert listing[1].split()[:3] == ["anna", "admin", "enabled"]
    assert listing[2].split()[:3] == ["otto", "shift_supervisor", "disabled"]

    engine = make_engine(db_url)
    try:
        assert db_rows(engine, "SELECT name, role, enabled FROM users ORDER BY name") == [
            ("anna", "admin", 1),
            ("otto", "shift_supervisor", 0),
        ]
        with pytest.raises(users.AccountDisabled):
            users.verify_login(engine, "otto", PW2)
        run("enable", "otto", stdin=as_anna())
        (old_hash,) = db_rows(engine, "SELECT password_hash FROM users WHERE name = 'otto'")[0]
        run("reset-password", "otto", "--password-stdin", stdin=as_anna("Third pass 99"))
        (new_hash,) = db_rows(engine, "SELECT password_hash FROM users WHERE name = 'otto'")[0]
        assert new_hash != old_hash
        assert users.verify_login(engine, "otto", "Third pass 99").role == "shift_supervisor"
        run("set-role", "otto", "viewer", stdin="", who=("--local-owner",))
        trail = [(r.entry.user, r.entry.action, r.entry.result) for r in audit.query(engine, audit.AuditQuery(newest_first=False))]
        assert trail[0] == ("anna", "create_first_admin", "ok")
        assert ("otto", "manage_users", "denied") in trail and ("anna", "login", "refused") in trail
        assert trail[-1][0].startswith("local-owner:") and trail[-1][1:] == ("manage_users", "ok")
        assert audit.verify(engine).intact
    finally:
        engine.dispose()

    secrets = [PW, PW2, "Third pass 99", long_pw, "Wrong pass 11"]
    everything = "\n".join(outputs)
    assert not [s for s in secrets if s in everything]
    dump = db_dump(tmp_path / "hmi.db")
    assert not [s for s in secrets if s.encode() in dump]


def test_cli_is_registered_and_imports_nothing_heavy_at_start():
    r = subprocess.run(
        [sys.executable, "-c", "import sys, hmi.cli; hmi.cli.build_parser(); print('bcrypt' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.stdout.strip() == "False", r.stderr
    assert "add" in hmi("user", "--help").stdout


@pytest.mark.parametrize(
    ("name", "role", "password", "reason"),
    [
        ("bob", "viewer", "abc", "password is too short"),
        ("bob", "viewer", "Bob and more 12", "must not contain the user name"),
        ("olaf", "viewer", PW2, "user 'olaf' already exists"),
        ("bob", "wizard", PW2, "unknown role 'wizard'"),
        ("no spaces allowed", "viewer", PW2, "invalid user name"),
    ],
    ids=["weak", "name-in-password", "existing", "unknown-role", "invalid-name"],
)
def test_a_refused_user_add_is_on_the_audit_trail(engine, name, role, password, reason, capsys, monkeypatch):
    """Issue 12, item 11: `hmi user add` refused for what it asked writes a refused record with the reason."""
    import io

    from hmi.cli import main
    from hmi.services import login

    login.create_first_admin(engine, "anna", PW, workstation="ws-1")
    user_admin.add_user(as_user(engine, "anna", "admin"), "olaf", "operator", PW)
    before = len(audit.query(engine))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PW}\n{password}\n"))
    db_url = engine.url.render_as_string(hide_password=False)
    assert main(["user", "add", name, "--role", role, "--password-stdin", "--user", "anna", "--db", db_url]) == 1
    assert reason in capsys.readouterr().err
    records = audit.query(engine, audit.AuditQuery(newest_first=False))
    new = [(r.entry.user, r.entry.action, r.entry.target, r.entry.result) for r in records[before:]]
    assert new == [("anna", "login", "user anna", "ok"), ("anna", "manage_users", f"user {name}", "refused")]
    assert reason in records[-1].entry.detail and password not in records[-1].entry.detail
    assert [u.name for u in users.list_users(engine)] == ["anna", "olaf"]


def test_a_refused_role_change_and_reset_are_on_the_audit_trail(engine, admin):
    user_admin.add_user(admin.c, "olaf", "operator", PW)
    with pytest.raises(UnknownRole):
        admin.set_role("olaf", "wizard")
    with pytest.raises(PasswordRejected):
        admin.reset_password("olaf", "abc")
    results = [(r.entry.target, r.entry.result, r.entry.new_value) for r in audit.query(engine, audit.AuditQuery(newest_first=False))]
    assert results[-2:] == [("user olaf", "refused", "role=wizard"), ("user olaf", "refused", None)]
