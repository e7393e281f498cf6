"""No password reaches a log, a produced file or the repository (issue 4: "a search finds no password").

The commands that handle passwords run with every logger at DEBUG into files under tmp_path: a user
added and logged in (once wrongly), secrets set and checked, the database reached with a password
from the keyring and from --db, a config with a password refused, and a collection from plc_sim
that asks for a user and a password. Then each password, random and unusual, is looked for in
every file the run produced, in what the commands printed, and in every tracked file of the repo.
"""

from __future__ import annotations

import io
import logging
import os
import secrets as random_secrets
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from hmi.cli import main
from hmi.config import ConfigError, parse_config
from hmi.resources import resource_text
from hmi.sim_process import free_port
from hmi.store.db import make_engine
from hmi.store.errors import DatabaseUnavailable
from hmi.store.users import LoginFailed, verify_login
from tests.test_secrets import MemoryKeyring

ROOT = Path(__file__).resolve().parent.parent
PLANT = resource_text("plant.toml")
LOGGERS = ("", "hmi", "asyncua", "asyncio", "alembic", "sqlalchemy", "sqlalchemy.engine", "keyring")
log = logging.getLogger("tests.no_passwords")


def a_password() -> str:
    """An unusual random password (never in the repo)."""
    return "Pw-" + random_secrets.token_urlsafe(18)


@pytest.fixture
def debug_log(tmp_path):
    """Every record at DEBUG (SQL statements and their parameters too) into tmp_path/logs/run.log."""
    path = tmp_path / "logs" / "run.log"
    path.parent.mkdir()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    handler.close()
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def memory_keyring(monkeypatch):
    """An in-memory keyring, and no HMI_SECRET_* from the machine."""
    for var in [v for v in os.environ if v.startswith("HMI_SECRET_")]:
        monkeypatch.delenv(var)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


SOURCE_DIRS = ("hmi", "plc_sim", "shopfloor_sim", "resources", "tests", "docs", "packaging", "bench")


def tracked_files() -> list[Path]:
    """Every file git tracks in the repository; outside a git checkout, the source folders and top-level files."""
    git = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if git.returncode == 0:
        paths = [ROOT / p for p in git.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    else:
        paths = [p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*") if "__pycache__" not in p.parts]
        paths += list(ROOT.glob("*"))
    return [p for p in paths if p.is_file()]


def test_no_password_in_logs_produced_files_or_the_repo(tmp_path, debug_log, memory_keyring, monkeypatch, capsys,
                                                         plc_sim_factory):
    pw = {k: a_password() for k in ("user", "wrong", "database", "db_cli", "config", "plc")}
    printed: list[str] = []

    def hmi(*args: str, stdin: str | None = None) -> int:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([*args, "-v"])
        out, err = capsys.readouterr()
        printed.append(out + err)
        log.info("hmi %s %s -> %s: %s", args[0], args[1], code, out + err)  # not the args: --db may carry one
        return code

    # Users: added with --password-stdin, a wrong and a right login.
    db = f"sqlite:///{tmp_path / 'data' / 'hmi.sqlite'}"
    assert hmi("user", "add", "alice", "--role", "admin", "--password-stdin", "--db", db, stdin=pw["user"] + "\n") == 0
    engine = make_engine(db)
    try:
        with pytest.raises(LoginFailed) as refused:
            verify_login(engine, "alice", pw["wrong"])
        log.warning("login refused: %s", refused.value)
        assert verify_login(engine, "alice", pw["user"]).name == "alice"
    finally:
        engine.dispose()

    # Secrets: stored, checked, and used for a PostgreSQL that is not there (the error is logged).
    pg_url = f"postgresql+psycopg://hmi@127.0.0.1:{free_port()}/plant"
    config = tmp_path / "plant.toml"
    config.write_text(PLANT.replace("[database]", f'[database]\nurl = "{pg_url}"', 1))
    assert hmi("secret", "set", "database", "--stdin", stdin=pw["database"] + "\n") == 0
    assert hmi("secret", "check", "--config", str(config)) == 0
    assert hmi("db", "upgrade", "--config", str(config)) == 1
    with_password = f"postgresql+psycopg://hmi:{pw['db_cli']}@127.0.0.1:{free_port()}/plant"
    assert hmi("db", "upgrade", "--db", with_password) == 1
    with pytest.raises(DatabaseUnavailable) as away:
        make_engine(with_password)
    log.error("%s", away.value)

    # A config that carries a password is refused, and the message does not repeat it.
    with pytest.raises(ConfigError) as bad:
        parse_config(PLANT.replace("[database]", f'[database]\nurl = "postgresql://hmi:{pw["config"]}@db/plant"', 1))
    log.error("%s", bad.value)

    # OPC UA: plc_sim wants a user and a password; the collector takes it from HMI_SECRET_OPCUA_PLC1.
    monkeypatch.setenv("HMI_TEST_PLC_PASSWORD", pw["plc"])
    sim = plc_sim_factory(seed=1, rate=10, user="op", password_env="HMI_TEST_PLC_PASSWORD", verbose=True)
    plc_config = tmp_path / "plc.toml"
    plc_config.write_text(sim.config_text)
    env = {k: v for k, v in os.environ.items() if k != "HMI_TEST_PLC_PASSWORD"}
    env |= {"HMI_SECRET_OPCUA_PLC1": pw["plc"], "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    collect_log = tmp_path / "logs" / "collect.log"
    plc_db = f"sqlite:///{tmp_path / 'data' / 'plc.sqlite'}"
    from hmi.store.migrate import upgrade

    upgrade(plc_db)  # the collector never creates the schema: `hmi db upgrade` does
    with collect_log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "hmi.cli", "collect", "-v", "--config", str(plc_config), "--db",
             plc_db, "--run-for", "4", "--status-interval", "1"],
            stdout=out, stderr=subprocess.STDOUT, timeout=120, cwd=ROOT, env=env,
        )
    sim.stop()
    (tmp_path / "logs" / "plc_sim.log").write_text("\n".join(sim.output), encoding="utf-8")

    # The run did what it should, and the logs are the verbose ones (else the search proves nothing).
    collected = collect_log.read_text(encoding="utf-8")
    assert proc.returncode == 0, collected[-2000:]
    running = [line for line in collected.splitlines() if line.startswith("collect: ") and "tags good" in line]
    assert "plc1=up" in running[-2] and "plc1=stopped" in running[-1]  # the last status while running, then the stop
    assert "ActivateSessionRequest" in collected and "Password=<redacted>" in collected
    run_log = debug_log.read_text(encoding="utf-8")
    assert "INSERT INTO users" in run_log and "secret database: keyring" in run_log
    assert "wrong user name or password" in run_log and "carries a password" in run_log

    # The search: every file the run produced, everything printed, every tracked file of the repo.
    produced = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(produced) >= 6
    haystacks = [(str(p), p.read_bytes()) for p in produced]
    haystacks += [("printed by the commands", "\n".join(printed).encode())]
    haystacks += [(str(p.relative_to(ROOT)), p.read_bytes()) for p in tracked_files()]
    found = [(where, name) for where, data in haystacks for name, value in pw.items() if value.encode() in data]
    assert found == []
