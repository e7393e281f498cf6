"""Users on real SQLite files: the store's services, the lockout with an injected clock, and `hmi user` as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from hmi.domain.passwords import PasswordRejected
from hmi.domain.permissions import PermissionDenied, UnknownRole
from hmi.store import users
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade

PW = "Control room 42"
PW2 = "New secret 77"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Actor:
    name: str
    role: str


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'hmi.db'}"


@pytest.fixture
def engine(db_url):
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


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


def test_add_stores_a_bcrypt_hash_and_verifies(engine):
    clock = Clock()
    u = users.add_user(engine, "anna", "admin", PW, now=clock)
    assert (u.name, u.role, u.enabled, u.failed_logins, u.created_at) == ("anna", "admin", True, 0, T0)
    (pw_hash,) = db_rows(engine, "SELECT password_hash FROM users WHERE name = 'anna'")[0]
    assert pw_hash.startswith("$2b$12$") and PW not in pw_hash
    assert users.verify_login(engine, "anna", PW, now=clock).role == "admin"


def test_refusals_are_clear(engine):
    users.add_user(engine, "anna", "admin", PW)
    with pytest.raises(users.UserExists, match="already exists"):
        users.add_user(engine, "anna", "viewer", PW2)
    with pytest.raises(UnknownRole, match="roles are: viewer, operator"):
        users.add_user(engine, "bob", "boss", PW2)
    with pytest.raises(PasswordRejected, match="73 bytes"):
        users.add_user(engine, "bob", "viewer", "Ab1" + "x" * 70)
    with pytest.raises(users.UnknownUser):
        users.disable(engine, "nobody")
    with pytest.raises(users.LastAdmin):
        users.disable(engine, "anna")
    with pytest.raises(users.LastAdmin):
        users.set_role(engine, "anna", "viewer")
    assert [u.name for u in users.list_users(engine)] == ["anna"]


def test_an_actor_needs_manage_users(engine):
    with pytest.raises(PermissionDenied, match=r"olaf \(operator\) may not manage users"):
        users.add_user(engine, "bob", "viewer", PW2, actor=Actor("olaf", "operator"))
    users.add_user(engine, "bob", "viewer", PW2, actor=Actor("anna", "admin"))


def test_five_wrong_passwords_lock_with_backoff(engine):
    clock = Clock()
    users.add_user(engine, "otto", "operator", PW, now=clock)
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


def test_disabled_unknown_and_overlong(engine):
    users.add_user(engine, "anna", "admin", PW)
    users.add_user(engine, "vera", "viewer", PW2)
    users.disable(engine, "vera")
    with pytest.raises(users.AccountDisabled, match="vera is disabled"):
        users.verify_login(engine, "vera", PW2)
    with pytest.raises(users.LoginFailed, match="wrong user name or password"):
        users.verify_login(engine, "ghost", PW2)
    with pytest.raises(users.LoginFailed):  # no bcrypt crash on a 73-byte guess
        users.verify_login(engine, "anna", "x" * 73)
    users.enable(engine, "vera")
    assert users.verify_login(engine, "vera", PW2).role == "viewer"


def test_reset_password_clears_the_lock(engine):
    clock = Clock()
    users.add_user(engine, "otto", "operator", PW, now=clock)
    for _ in range(5):
        with pytest.raises(users.LoginFailed):
            users.verify_login(engine, "otto", "wrong password 1", now=clock)
    users.reset_password(engine, "otto", PW2, now=clock)
    assert users.verify_login(engine, "otto", PW2, now=clock).name == "otto"
    with pytest.raises(users.LoginFailed):
        users.verify_login(engine, "otto", PW, now=clock)


# --- the command line --------------------------------------------------------------------------


def test_cli_user_lifecycle(tmp_path, db_url):
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        r = hmi("user", *args, "--db", db_url, stdin=stdin)
        outputs.append(r.stdout + r.stderr)
        assert (r.returncode == 0) is ok, r.stderr
        if not ok:
            assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
        return r

    assert "added anna (admin)" in run("add", "anna", "--role", "admin", "--password-stdin", stdin=PW + "\n").stdout
    run("add", "otto", "--role", "operator", "--password-stdin", stdin=PW2 + "\n")
    assert "already exists" in run("add", "otto", "--role", "viewer", "--password-stdin", stdin=PW2, ok=False).stderr
    err = run("add", "bob", "--role", "boss", "--password-stdin", stdin=PW2, ok=False).stderr
    assert "unknown role 'boss'" in err and "shift_supervisor" in err and "production_planner" in err
    long_pw = "Ab1" + "x" * 70
    err = run("add", "bob", "--role", "viewer", "--password-stdin", stdin=long_pw, ok=False).stderr
    assert "password is too long: 73 bytes in UTF-8, at most 72" in err
    assert "too short" in run("add", "bob", "--role", "viewer", "--password-stdin", stdin="Ab1", ok=False).stderr
    assert "one kind" in run("add", "bob", "--role", "viewer", "--password-stdin", stdin="a" * 12, ok=False).stderr

    run("disable", "otto")
    run("set-role", "otto", "shift-supervisor")
    assert "last enabled admin" in run("disable", "anna", ok=False).stderr
    assert "no user named 'ghost'" in run("enable", "ghost", ok=False).stderr
    listing = run("list").stdout.splitlines()
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
        run("enable", "otto")
        (old_hash,) = db_rows(engine, "SELECT password_hash FROM users WHERE name = 'otto'")[0]
        run("reset-password", "otto", "--password-stdin", stdin="Third pass 99\n")
        (new_hash,) = db_rows(engine, "SELECT password_hash FROM users WHERE name = 'otto'")[0]
        assert new_hash != old_hash
        assert users.verify_login(engine, "otto", "Third pass 99").role == "shift_supervisor"
    finally:
        engine.dispose()

    secrets = [PW, PW2, "Third pass 99", long_pw]
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
