"""Secrets: the OS keyring (an in-memory backend here), the HMI_SECRET_* fallback, the CLI, PostgreSQL and OPC UA."""

from __future__ import annotations

import io
import os
import secrets as random_secrets
import subprocess
import sys
import uuid
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError
from sqlalchemy import create_engine, text

from hmi import secrets
from hmi.cli import main
from hmi.config import ConfigError, parse_config
from hmi.resources import resource_text
from hmi.runtime import endpoint_password
from hmi.store.db import make_engine, resolve_database_url

ROOT = Path(__file__).resolve().parent.parent
PLANT = resource_text("plant.toml")


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps its passwords in a dict, for tests."""

    # Below the fail backend (0): keyring's own detection never picks it; the tests select it explicitly.
    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise PasswordDeleteError("not found") from None


def _use_keyring(backend: KeyringBackend):
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    return previous


@pytest.fixture(autouse=True)
def no_secret_env(monkeypatch):
    """No HMI_SECRET_* from the machine running the tests."""
    for var in [v for v in os.environ if v.startswith(secrets.ENV_PREFIX)]:
        monkeypatch.delenv(var)


@pytest.fixture
def memory_keyring():
    """An in-memory keyring for the test; the previous backend is restored after."""
    backend = MemoryKeyring()
    previous = _use_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    """The keyring of a headless Linux machine: every call raises NoKeyringError."""
    previous = _use_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def a_password() -> str:
    """An unusual random password (never in the repo)."""
    return "Pw-" + random_secrets.token_urlsafe(18)


def hmi_main(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- names and the environment variable mapping ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "var"),
    [
        ("database", "HMI_SECRET_DATABASE"),
        ("db", "HMI_SECRET_DB"),
        ("opcua.plc1", "HMI_SECRET_OPCUA_PLC1"),
        ("mqtt.site-a", "HMI_SECRET_MQTT_SITE_A"),
    ],
)
def test_each_secret_has_an_environment_variable(name, var):
    assert secrets.check_name(name) == name
    assert secrets.env_var(name) == var


@pytest.mark.parametrize("name", ["", "Database", "opcua plc1", ".hidden", "-x", "a/b", "x" * 101])
def test_a_bad_secret_name_is_refused(name):
    with pytest.raises(secrets.SecretError, match="is not a secret name"):
        secrets.check_name(name)


def test_reserved_names():
    assert secrets.DATABASE_SECRET == "database"
    assert secrets.opcua_secret("plc1") == "opcua.plc1"
    assert secrets.mqtt_secret("site_a") == "mqtt.site_a"


# -- the keyring and the environment --------------------------------------------------------------


def test_set_get_delete_in_the_keyring(memory_keyring):
    value = a_password()
    secrets.set_secret("opcua.plc1", value)
    assert memory_keyring.store[("hmi", "opcua.plc1")] == value
    assert secrets.get_secret("opcua.plc1") == value
    assert secrets.locate_secret("opcua.plc1") == (value, "keyring")
    secrets.delete_secret("opcua.plc1")
    assert secrets.find_secret("opcua.plc1") is None
    with pytest.raises(secrets.SecretMissing, match="not in the keyring"):
        secrets.delete_secret("opcua.plc1")


def test_a_missing_secret_says_what_to_do(memory_keyring):
    with pytest.raises(secrets.SecretMissing) as err:
        secrets.get_secret("opcua.plc1")
    message = str(err.value)
    assert "\n" not in message
    assert "'opcua.plc1'" in message and "hmi secret set opcua.plc1" in message and "HMI_SECRET_OPCUA_PLC1" in message


def test_the_environment_variable_wins_over_the_keyring(memory_keyring, monkeypatch):
    secrets.set_secret("database", a_password())
    injected = a_password()
    monkeypatch.setenv("HMI_SECRET_DATABASE", injected)
    assert secrets.get_secret("database") == injected
    assert secrets.locate_secret("database") == (injected, "env HMI_SECRET_DATABASE")


def test_headless_machine_falls_back_to_the_environment_variable(no_keyring, monkeypatch):
    assert secrets.backend_name() is None
    with pytest.raises(secrets.SecretMissing) as err:
        secrets.get_secret("db")
    assert "no keyring backend" in str(err.value) and "HMI_SECRET_DB" in str(err.value)
    assert secrets.find_secret("db") is None
    with pytest.raises(secrets.NoKeyringBackend, match="HMI_SECRET_DB"):
        secrets.set_secret("db", a_password())
    value = a_password()
    monkeypatch.setenv("HMI_SECRET_DB", value)
    assert secrets.get_secret("db") == value


def test_a_keyring_that_does_not_keep_the_value_is_reported(monkeypatch):
    from keyring.backends import null

    previous = _use_keyring(null.Keyring())
    try:
        with pytest.raises(secrets.SecretError, match="did not keep secret 'db'.*HMI_SECRET_DB"):
            secrets.set_secret("db", a_password())
    finally:
        keyring.set_keyring(previous)


# -- the command line -----------------------------------------------------------------------------


def test_cli_set_check_and_delete(memory_keyring, capsys, monkeypatch, tmp_path):
    value = a_password()
    code, out, err = hmi_main(capsys, "secret", "set", "opcua.plc1", "--stdin", stdin=value + "\n", monkeypatch=monkeypatch)
    assert (code, err) == (0, "")
    assert "stored in the keyring" in out and value not in out
    assert secrets.get_secret("opcua.plc1") == value

    config = tmp_path / "plant.toml"
    config.write_text(PLANT.replace('url = "opc.tcp://127.0.0.1:4840/hmi/plc"',
                                    'url = "opc.tcp://127.0.0.1:4840/hmi/plc"\nusername = "operator"', 1))
    code, out, err = hmi_main(capsys, "secret", "check", "--config", str(config),
                              "--db", "postgresql+psycopg://hmi@db.example/plant")
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "keyring" in lines["opcua.plc1"] and "endpoint plc1 user operator" in lines["opcua.plc1"]
    assert "missing" in lines["database"] and "optional" in lines["database"]
    assert value not in out

    assert hmi_main(capsys, "secret", "delete", "opcua.plc1")[0] == 0
    code, out, err = hmi_main(capsys, "secret", "check", "--config", str(config))
    assert code == 1
    assert "opcua.plc1  missing" in out
    assert err.strip() == ("hmi secret: 1 required secret(s) missing: hmi secret set opcua.plc1 "
                           "(or set HMI_SECRET_OPCUA_PLC1)")
    code, _, err = hmi_main(capsys, "secret", "delete", "opcua.plc1")
    assert code == 1 and "not in the keyring" in err and "Traceback" not in err


def test_cli_set_on_a_terminal_reads_twice_without_echo(memory_keyring, capsys, monkeypatch):
    value = a_password()
    answers = iter([value, value, value, value + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(sys, "stdin", type("Tty", (), {"isatty": lambda self: True})())
    code, out, _ = hmi_main(capsys, "secret", "set", "database")
    assert code == 0 and value not in out
    assert secrets.get_secret("database") == value
    code, _, err = hmi_main(capsys, "secret", "set", "database")
    assert code == 1 and "the two values differ" in err


def test_cli_set_refuses_no_value_and_bad_names(memory_keyring, capsys, monkeypatch):
    code, _, err = hmi_main(capsys, "secret", "set", "database", "--stdin", stdin="\n", monkeypatch=monkeypatch)
    assert code == 1 and "empty value" in err
    code, _, err = hmi_main(capsys, "secret", "set", "Data Base", "--stdin", stdin="x\n", monkeypatch=monkeypatch)
    assert code == 1 and "is not a secret name" in err
    assert memory_keyring.store == {}


def test_cli_set_on_a_headless_machine_names_the_environment_variable(no_keyring, capsys, monkeypatch):
    code, out, err = hmi_main(capsys, "secret", "set", "db", "--stdin", stdin=a_password() + "\n", monkeypatch=monkeypatch)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "no keyring backend" in err and "HMI_SECRET_DB" in err
    code, out, _ = hmi_main(capsys, "secret", "check")
    assert code == 0 and "keyring: none on this machine" in out


def test_cli_in_a_subprocess_without_keyring_exits_1_with_one_line():
    env = os.environ | {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = subprocess.run([sys.executable, "-m", "hmi.cli", "secret", "set", "db", "--stdin"], input=a_password() + "\n",
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("hmi secret: cannot store secret 'db': this machine has no keyring backend")
    assert "HMI_SECRET_DB" in proc.stderr and proc.stderr.count("\n") == 1


# -- the database ---------------------------------------------------------------------------------


def test_a_password_in_the_database_url_of_a_config_is_refused():
    value = a_password()
    with pytest.raises(ConfigError) as err:
        parse_config(PLANT.replace("[database]", f'[database]\nurl = "postgresql+psycopg://hmi:{value}@db/plant"', 1),
                     "plant.toml")
    message = str(err.value)
    assert message.startswith("plant.toml: database.url: carries a password")
    assert "hmi secret set database" in message
    assert value not in message


def test_the_database_password_comes_from_the_secret(memory_keyring, monkeypatch):
    url = "postgresql+psycopg://hmi@db.example:5432/plant"
    assert resolve_database_url(url).password is None  # set nowhere: peer/trust auth
    value = a_password()
    secrets.set_secret("database", value)
    resolved = resolve_database_url(url)
    assert resolved.password == value and resolved.username == "hmi"
    assert value not in str(resolved) and value not in repr(resolved)
    given = a_password()
    assert resolve_database_url(f"postgresql+psycopg://hmi:{given}@db/plant").password == given  # --db keeps its own
    assert resolve_database_url("postgresql+psycopg://db/plant").password is None  # no user: nothing to add
    assert resolve_database_url("sqlite:///x.sqlite").password is None


@pytest.fixture
def pg_role(pg_server):
    """A PostgreSQL role that must give its password, owning a fresh database: (url without password, password)."""
    if not pg_server.is_running():
        pg_server.start()
    name = f"r_{uuid.uuid4().hex[:10]}"
    password = a_password()
    url = pg_server.add_password_role(name, password, name)
    yield url, password
    pg_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_server.admin(f'DROP ROLE IF EXISTS "{name}"')


def test_db_upgrade_takes_the_postgresql_password_from_the_secret(pg_role, memory_keyring, capsys, tmp_path, monkeypatch):
    url, password = pg_role
    config = tmp_path / "plant.toml"
    config.write_text(PLANT.replace("[database]", f'[database]\nurl = "{url}"', 1))

    code, out, err = hmi_main(capsys, "db", "upgrade", "--config", str(config))
    assert code == 1 and out == ""
    assert "password" in err and "hmi secret set database" in err and "HMI_SECRET_DATABASE" in err
    assert err.count("\n") == 1 and "Traceback" not in err

    secrets.set_secret("database", "wrong-" + a_password())
    code, _, err = hmi_main(capsys, "db", "upgrade", "--config", str(config))
    assert code == 1 and "password authentication failed" in err and "hmi secret set database" in err

    secrets.set_secret("database", password)
    code, out, err = hmi_main(capsys, "db", "upgrade", "--config", str(config))
    assert code == 0, err
    assert "database at schema" in out and password not in out + err

    secrets.delete_secret("database")
    monkeypatch.setenv("HMI_SECRET_DATABASE", password)  # the headless way
    code, out, err = hmi_main(capsys, "db", "upgrade", "--config", str(config))
    assert code == 0, err
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == url.split("//")[1].split("@")[0]
    finally:
        engine.dispose()


# -- OPC UA ---------------------------------------------------------------------------------------


def test_an_endpoint_with_a_user_and_no_secret_is_refused_at_start(memory_keyring):
    config = parse_config(PLANT.replace('url = "opc.tcp://127.0.0.1:4840/hmi/plc"',
                                        'url = "opc.tcp://127.0.0.1:4840/hmi/plc"\nusername = "operator"', 1))
    with pytest.raises(ConfigError) as err:
        endpoint_password(config.endpoint("plc1"))
    assert str(err.value) == ("endpoint plc1 (user operator) has no password: secret 'opcua.plc1' is not set: "
                              "run `hmi secret set opcua.plc1`, or set the environment variable HMI_SECRET_OPCUA_PLC1")
    value = a_password()
    secrets.set_secret("opcua.plc1", value)
    assert endpoint_password(config.endpoint("plc1")) == value
    assert endpoint_password(parse_config(PLANT).endpoint("plc1")) is None  # no user: anonymous


def test_plc_sim_user_options_are_checked():
    from tests.fixtures_plc import run_plc_sim

    proc = run_plc_sim("--user", "op")
    assert proc.returncode == 2 and "--user needs --password-env" in proc.stderr
    proc = run_plc_sim("--user", "op", "--password-env", "HMI_TEST_UNSET_VARIABLE_X")
    assert proc.returncode == 2 and "HMI_TEST_UNSET_VARIABLE_X: that environment variable is not set" in proc.stderr
    proc = run_plc_sim("--user", "op", "--print-config")
    assert proc.returncode == 0 and 'username = "op"' in proc.stdout


def _collect(config: Path, db: str, env: dict[str, str], run_for: float = 4.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi.cli", "collect", "--config", str(config), "--db", db,
         "--run-for", str(run_for), "--status-interval", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )


def test_collect_from_plc_sim_with_a_user_and_the_password_from_the_environment(plc_sim_factory, monkeypatch, tmp_path):
    password = a_password()
    monkeypatch.setenv("HMI_TEST_PLC_PASSWORD", password)
    sim = plc_sim_factory(seed=1, rate=10, user="op", password_env="HMI_TEST_PLC_PASSWORD")
    assert 'username = "op"' in sim.config_text
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    db = f"sqlite:///{tmp_path / 'history.sqlite'}"
    env = {k: v for k, v in os.environ.items() if k != "HMI_TEST_PLC_PASSWORD"}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # a headless machine

    missing = _collect(config, db, env, run_for=1)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "hmi collect: endpoint plc1 (user op) has no password: secret 'opcua.plc1' is not set and this machine "
        "has no keyring backend: set the environment variable HMI_SECRET_OPCUA_PLC1")

    wrong = _collect(config, db, env | {"HMI_SECRET_OPCUA_PLC1": "wrong-" + password}, run_for=2)
    assert wrong.returncode == 0  # a PLC that refuses is a link that is down, not a crash
    assert "| plc1=down (" in wrong.stdout.strip().splitlines()[-2]  # the last status while running says why

    from hmi.store.migrate import upgrade

    upgrade(db)  # the collector never creates the schema: `hmi db upgrade` does
    good = _collect(config, db, env | {"HMI_SECRET_OPCUA_PLC1": password})
    assert good.returncode == 0, good.stderr
    last = good.stdout.strip().splitlines()[-2]  # the last status while running (the stop line says stopped)
    assert "tags good 36 bad 0" in last and "| plc1=up |" in last
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM samples WHERE quality = 0")).scalar() > 0
    finally:
        engine.dispose()
    assert password not in good.stdout + good.stderr + wrong.stdout + wrong.stderr
