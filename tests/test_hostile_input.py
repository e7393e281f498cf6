"""Every CLI command against hostile input: one line on stderr, a non-zero exit, nothing created or changed.

The table below has rows of (command line, standard input). Each runs in a sandbox folder (HOME,
the XDG folders and HMI_DATA_DIR point into it, the keyring is one that holds nothing) holding a
migrated database with users and history, a valid config, a binary file, a folder and a 1 MB
argument. A row passes when the command exits non-zero, prints exactly one line on stderr and no
traceback, and the sandbox is unchanged afterwards (SQLite's -wal/-shm companions aside). A row
marked ``audited`` is a refusal after a login: it appends one refused/denied/failed record to the
audit trail, and nothing else changes.

A new command adds its rows here: test_every_command_has_a_row fails until it has one.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hmi.cli import build_parser, main
from hmi.domain.session import SessionUser
from hmi.domain.tags import Quality
from hmi.resources import resource_text
from hmi.services import login, user_admin
from hmi.services.commands import CommandService
from hmi.store import ingest
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import audit_log

PW = "Control room 42"
BIG = "x" * 1_000_000  # a 1 MB argument (in-process only: Linux caps one argument at 128 KiB)
TAG = "drillrig1.torque"
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Row:
    """One hostile command line; ``{name}`` in an argument is a sandbox path (see Sandbox.fill)."""

    argv: tuple[str, ...]
    stdin: str = ""
    audited: bool = False  # refused after a login: one refused/denied/failed audit record is appended
    subprocess: bool = False  # run as a real `python -m hmi.cli` process
    login_only: bool = False  # the login succeeds (and is recorded), then the command refuses: nothing else


def row(*argv: str, stdin: str = "", audited: bool = False, subprocess: bool = False, login_only: bool = False) -> Row:
    return Row(tuple(argv), stdin, audited, subprocess, login_only)


LOGIN = f"{PW}\n"
ORDER = "ORD-20261207-0001"  # the planned order in the seeded database (created on a fixed clock)

HMI_ROWS: list[Row] = [
    # hmi alone (the window) and hmi gui
    row("--config", "{missing}"),
    row("--config", "{binary}", subprocess=True),
    row("gui", "--config", "{folder}"),
    row("gui", "--run-for", "-1"),
    row("gui", "--screenshot", "{folder}"),
    row("gui", "--idle-lock", "nan"),
    row("gui", "--show", "nosuchpane", "--offscreen", "--run-for", "1", "--db", "{db}"),
    row("gui", "--config", "{missing}", "--db", "{db}"),
    row("gui", "--wall", "--show", "trends"),
    row("--wall", "--screenshot", "{folder}"),
    # demo: refused before the simulator starts
    row("demo", "--run-for", "0"),
    row("demo", "--screenshot", "shot.png"),
    row("demo", "--speed", "fast"),
    row("demo", "--idle-lock", "-5"),
    row("demo", "--wall", "--show", "orders"),
    # collect
    row("collect", "--config", "{binary}"),
    row("--config", "{missing}", "collect"),
    row("collect", "--config", "{folder}"),
    row("collect", "--config", "{bad_band}"),
    row("collect", "--run-for", "soon"),
    row("collect", "--run-for", "-1", "--config", "{config}", "--db", "{nodb}"),
    row("collect", "--status-interval", "0", "--config", "{config}", "--db", "{nodb}"),
    row("collect", "--config", "{binary}", "--db", "{badurl}", subprocess=True),
    # db upgrade
    row("db", "upgrade", "--db", "{dirdb}"),
    row("db", "upgrade", "--db", "{bindb}"),
    row("db", "upgrade", "--db", "{badurl}"),
    row("db", "upgrade", "--config", "{binary}"),
    # history
    row("history", "tags", "--db", "{nodb}"),
    row("history", "tags", "--db", "{dirdb}"),
    row("history", "tags", "--db", "{bindb}"),
    row("history", "tags", "--db", "{emptydb}"),
    row("history", "tags", "--db", "{badurl}"),
    row("history", "tags", "--config", "{binary}", subprocess=True),
    row("history", "tags", "--config", "{binary}/plant.toml"),  # unreadable (root reads any mode): not a folder
    row("history", "export", "--tag", TAG, "--db", "{nodb}"),
    row("history", "export", "--tag", "nosuch.tag", "--db", "{db}"),
    row("history", "export", "--tag", BIG, "--db", "{db}"),
    row("history", "export", "--tag", TAG, "--from", "yesterday", "--db", "{db}"),
    row("history", "export", "--tag", TAG, "--from", "now", "--to", "-1h", "--db", "{db}"),
    row("history", "export", "--tag", TAG, "--db", "{db}", "-o", "{missing_folder}/out.csv"),
    row("history", "export", "--tag", TAG, "--db", "{db}", "-o", "{folder}"),
    row("history", "export", "--tag", TAG, "--db", "{db}", "-o", "{binary}/out.csv", subprocess=True),
    row("history", "export", "--tag", TAG, "--format", "xlsx", "--db", "{db}"),
    # user
    row("user", "add", "bob", "--role", "operator", "--password-stdin", "--db", "{nodb}", stdin="abc\n"),
    row("user", "add", "bob", "--role", "operator", "--password-stdin", "--db", "{nodb}", stdin=""),
    row("user", "add", "anna", "--role", "admin", "--password-stdin", "--db", "{nodb}", stdin="short\n"),
    row("user", "add", "bob", "--role", "operator", "--password-stdin", "--user", "anna", "--db", "{db}",
        stdin=LOGIN + "abc\n", audited=True),
    row("user", "add", "olga", "--role", "operator", "--password-stdin", "--user", "anna", "--db", "{db}",
        stdin=LOGIN + "Another good one 7\n", audited=True),
    row("user", "add", "bob", "--role", "wizard", "--password-stdin", "--user", "anna", "--db", "{db}",
        stdin=LOGIN + "Another good one 7\n", audited=True),
    row("user", "add", BIG, "--role", "operator", "--password-stdin", "--user", "anna", "--db", "{db}",
        stdin=LOGIN + "Another good one 7\n", audited=True),
    row("user", "list", "--db", "{nodb}"),
    row("user", "list", "--user", "anna", "--db", "{db}", stdin=""),
    row("user", "disable", "nobody", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("user", "enable", "olga", "--db", "{db}"),
    row("user", "reset-password", "olga", "--password-stdin", "--user", "anna", "--db", "{db}", stdin=LOGIN,
        login_only=True),
    row("user", "set-role", "olga", "wizard", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("user", "set-role", "olga", "admin", "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    # audit
    row("audit", "verify", "--db", "{nodb}"),
    row("audit", "verify", "--db", "{bindb}"),
    row("audit", "verify", "--db", "{emptydb}"),
    row("audit", "list", "--db", "{nodb}"),
    row("audit", "list", "--since", "last tuesday", "--db", "{db}"),
    row("audit", "list", "--action", BIG, "--db", "{db}"),
    row("audit", "list", "--limit", "0", "--db", "{db}"),
    row("audit", "list", "--user", "anna", "--db", "{db}", stdin=""),
    row("audit", "list", "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("audit", "export", "out.pdf", "--db", "{db}"),
    row("audit", "export", "{missing_folder}/out.csv", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("audit", "export", "{folder}/x.csv", "--db", "{nodb}"),
    # secret
    row("secret", "set", "Not A Name!", "--stdin", stdin="value\n"),
    row("secret", "set", "database", "--stdin", stdin=""),
    row("secret", "set", BIG, "--stdin", stdin="value\n"),
    row("secret", "delete", "../etc/passwd"),
    row("secret", "delete", "database"),
    row("secret", "check", "--config", "{binary}"),
    row("secret", "check", "--config", "{missing}"),
    # setpoint
    row("setpoint", "write", "drillrig1.setpoint", "45", "--db", "{nodb}"),
    row("setpoint", "write", "drillrig1.setpoint", "45", "--db", "{db}"),
    row("setpoint", "write", "nosuch.setpoint", "45", "--user", "eve", "--db", "{db}", stdin=LOGIN, audited=True),
    row("setpoint", "write", "drillrig1.setpoint", BIG, "--user", "eve", "--db", "{db}", stdin=LOGIN, audited=True),
    row("setpoint", "write", "drillrig1.setpoint", "nan", "--user", "eve", "--db", "{db}", stdin=LOGIN, audited=True),
    row("setpoint", "show", "nosuch.tag"),
    row("setpoint", "show", BIG),
    row("setpoint", "show", "drillrig1.setpoint", "--config", "{binary}"),
    # alarm
    row("alarm", "list", "--db", "{nodb}"),
    row("alarm", "list", "--db", "{emptydb}"),
    row("alarm", "list", "--priority", "9", "--db", "{db}"),
    row("alarm", "list", "--config", "{binary}", "--db", "{db}"),
    row("alarm", "ack", "--db", "{db}"),
    row("alarm", "ack", "drillrig1.pressure.hi", "--db", "{nodb}"),
    row("alarm", "ack", BIG, "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("alarm", "ack", "drillrig1.pressure.hi", "--user", "olga", "--db", "{db}", stdin=""),
    row("alarm", "shelve", "drillrig1.pressure.hi", "--for", "forever", "--reason", "x", "--db", "{db}"),
    row("alarm", "shelve", "drillrig1.pressure.hi", "--for", "1h", "--db", "{db}"),
    row("alarm", "unshelve", "drillrig1.pressure.hi", "--db", "{db}"),
    row("alarm", "suppress", "drillrig1.pressure.hi", "--db", "{db}"),
    row("alarm", "out-of-service", "nosuch.alarm", "--reason", "x", "--user", "eve", "--db", "{db}", stdin=LOGIN,
        audited=True),
    row("alarm", "return", "drillrig1.pressure.hi", "--db", "{nodb}"),
    row("alarm", "journal", "--since", "the dawn of time", "--db", "{db}"),
    row("alarm", "journal", "--db", "{nodb}"),
    row("alarm", "journal", "--export", "out.pdf", "--db", "{db}"),
    row("alarm", "journal", "--export", "{missing_folder}/j.csv", "--user", "anna", "--db", "{db}", stdin=LOGIN,
        audited=True),
    row("alarm", "health", "--until", "-2d", "--since", "-1d", "--db", "{db}"),
    row("alarm", "health", "--export", "out.csv", "--db", "{db}"),
    row("alarm", "health", "--db", "{nodb}"),
    row("alarm", "mail-test"),
    row("alarm", "mail-test", "--config", "{binary}"),
    # order (the seeded database has material PET, 10 kg, and the planned order ORDER of 1,000 units)
    *[row("order", "create", "--product", "Cola", "--quantity", q, "--material", "PET", "--due", "2099-01-01T00:00Z",
          "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True) for q in ("0", "-1", "1e999", "abc")],
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "Gold", "--due", "2099-01-01T00:00Z",
        "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "PET", "--due", "2020-01-01T00:00Z",
        "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "PET", "--due", "2099-01-01T00:00Z",
        "--priority", "9", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "PET", "--due", "2099-01-01T00:00Z",
        "--per-unit", "inf", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "create", "--product", BIG, "--quantity", "5", "--material", "PET", "--due", "2099-01-01T00:00Z",
        "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "PET", "--due", "2099-01-01T00:00Z",
        "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "PET", "--due", "whenever",
        "--user", "anna", "--db", "{db}", stdin=LOGIN),
    row("order", "create", "--product", "Cola", "--quantity", "5", "--material", "PET", "--due", "2099-01-01T00:00Z",
        "--user", "anna", "--db", "{nodb}", stdin=LOGIN),
    row("order", "release", ORDER, "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),  # short of PET
    row("order", "release", "ORD-20990101-0001", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "release", ORDER, "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "release", ORDER, "--db", "{db}"),
    row("order", "list", "--db", "{nodb}", "--user", "anna", stdin=LOGIN),
    row("order", "list", "--status", "lost", "--user", "anna", "--db", "{db}", stdin=LOGIN),
    row("order", "show", "ORD-20990101-0001", "--user", "anna", "--db", "{db}", stdin=LOGIN, login_only=True),
    row("order", "show", BIG, "--user", "anna", "--db", "{db}", stdin=LOGIN, login_only=True),
    row("order", "cancel", "ORD-20990101-0001", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "cancel", ORDER, "--reason", BIG, "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "cancel", ORDER, "--user", "eve", "--db", "{db}", stdin=LOGIN, audited=True),
    row("order", "move", ORDER, "--up", "0", "--user", "anna", "--db", "{db}", stdin=LOGIN),
    row("order", "move", ORDER, "--up", "1", "--down", "1", "--db", "{db}"),
    row("order", "move", "ORD-20990101-0001", "--down", "2", "--user", "anna", "--db", "{db}", stdin=LOGIN,
        audited=True),
    # shopfloor (the seeded database knows sf1)
    row("shopfloor", "list", "--user", "anna", "--db", "{nodb}", stdin=LOGIN),
    row("shopfloor", "list", "--user", "anna", "--db", "{db}", stdin=""),
    row("shopfloor", "capacity", "sf1", "abc", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("shopfloor", "capacity", "sf1", "-5", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("shopfloor", "capacity", "sf1", "1e999", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("shopfloor", "capacity", "nosuch", "100", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("shopfloor", "capacity", "sf1", "100", "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("shopfloor", "dispatch", "sf1", "maybe", "--db", "{db}"),
    row("shopfloor", "dispatch", "nosuch", "off", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    # material
    row("material", "list", "--user", "anna", "--db", "{nodb}", stdin=LOGIN),
    row("material", "receive", "PET", "-5", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("material", "receive", "PET", "nan", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("material", "receive", BIG, "5", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("material", "receive", "PET", "5", "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    # production
    row("production", "report", "--from", "yesterday", "--user", "anna", "--db", "{db}", stdin=LOGIN),
    row("production", "report", "--from", "now", "--to", "-1h", "--user", "anna", "--db", "{db}", stdin=LOGIN),
    row("production", "report", "--from", "-1h", "--by", "week", "--db", "{db}"),
    row("production", "report", "--from", "-1h", "--user", "anna", "--db", "{nodb}", stdin=LOGIN),
    # andon (the seeded database has no calls; sf1 is its shopfloor, olga an operator, eve an engineer)
    row("andon", "raise", "--line", "nosuch", "--category", "maintenance", "--user", "olga", "--db", "{db}",
        stdin=LOGIN, audited=True),
    row("andon", "raise", "--line", "sf1", "--category", "fire", "--user", "olga", "--db", "{db}", stdin=LOGIN),
    row("andon", "raise", "--line", "sf1", "--category", "safety", "--note", BIG, "--user", "olga", "--db", "{db}",
        stdin=LOGIN, audited=True),
    row("andon", "raise", "--line", "sf1", "--category", "safety", "--user", "olga", "--db", "{db}", stdin=""),
    row("andon", "raise", "--line", "sf1", "--category", "safety", "--user", "olga", "--db", "{db}",
        stdin="not the password\n", audited=True),
    row("andon", "raise", "--line", "sf1", "--category", "safety", "--user", "olga", "--db", "{nodb}", stdin=LOGIN),
    row("andon", "raise", "--line", "sf1", "--category", "safety", "--config", "{binary}", "--db", "{db}"),
    row("andon", "ack", "999", "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("andon", "ack", "abc", "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("andon", "ack", BIG, "--user", "olga", "--db", "{db}", stdin=LOGIN, audited=True),
    row("andon", "ack", "1", "--user", "olga", "--db", "{nodb}", stdin=LOGIN),
    row("andon", "ack", "1", "--db", "{db}"),
    row("andon", "resolve", "999", "--reason", "mechanical", "--user", "anna", "--db", "{db}", stdin=LOGIN,
        audited=True),
    row("andon", "resolve", "1", "--reason", "lunch", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("andon", "resolve", "1", "--reason", "mechanical", "--user", "olga", "--db", "{db}", stdin=LOGIN,
        audited=True),
    row("andon", "resolve", "1", "--db", "{db}"),
    row("andon", "list", "--since", "whenever", "--db", "{db}"),
    row("andon", "list", "--since", "99999-01-01", "--db", "{db}"),
    row("andon", "list", "--db", "{nodb}"),
    row("andon", "list", "--db", "{emptydb}"),
    row("andon", "list", "--format", "xml", "--db", "{db}"),
    # downtime
    row("downtime", "list", "--from", "now", "--to", "-1h", "--db", "{db}"),
    row("downtime", "list", "--from", "the dawn of time", "--db", "{db}"),
    row("downtime", "list", "--db", "{nodb}"),
    row("downtime", "list", "--format", "yaml", "--db", "{db}"),
    row("downtime", "reason", "999", "--reason", "mechanical", "--user", "anna", "--db", "{db}", stdin=LOGIN,
        audited=True),
    row("downtime", "reason", "1", "--reason", "lunch", "--user", "anna", "--db", "{db}", stdin=LOGIN, audited=True),
    row("downtime", "reason", "1", "--reason", "mechanical", "--user", "olga", "--db", "{db}", stdin=LOGIN,
        audited=True),
    row("downtime", "reason", "1", "--reason", "mechanical", "--user", "anna", "--db", "{nodb}", stdin=LOGIN),
    row("downtime", "reason", "1", "--db", "{db}"),
    row("downtime", "pareto", "--db", "{db}"),
    row("downtime", "pareto", "--from", "yesterday", "--db", "{db}"),
    row("downtime", "pareto", "--from", "-1d", "--by", "shift", "--db", "{db}"),
    row("downtime", "pareto", "--from", "-1d", "--db", "{nodb}"),
    # oee
    row("oee", "--db", "{db}"),
    row("oee", "--from", "now", "--to", "-1h", "--db", "{db}"),
    row("oee", "--from", "the dawn of time", "--db", "{db}"),
    row("oee", "--from", "-1d", "--to", "99999-01-01", "--db", "{db}"),
    row("oee", "--from", "-1d", "--line", "nosuch", "--db", "{db}"),
    row("oee", "--from", "-1d", "--line", BIG, "--db", "{db}"),
    row("oee", "--from", "-1d", "--by", "month", "--db", "{db}"),
    row("oee", "--from", "-1d", "--format", "xml", "--db", "{db}"),
    row("oee", "--from", "-1d", "--db", "{nodb}"),
    row("oee", "--from", "-1d", "--db", "{emptydb}"),
    row("oee", "--from", "-1d", "--config", "{binary}", "--db", "{db}"),
    row("oee", "--from", "-1d", "--config", "{bad_shifts}", "--db", "{db}"),  # overlapping shifts
    row("collect", "--config", "{bad_shifts}"),
]

# plc-sim: each option that takes a value gets a bad one (and a few combinations that cannot work).
PLC_SIM_ROWS: list[Row] = [
    row("--host", "999.1.1.1"),
    row("--port", "99999"),
    row("--port", "http"),
    row("--config", "{binary}"),
    row("--config", "{missing}"),
    row("--config", "{bad_band}"),
    row("--endpoint-name", "BAD-NAME", "--print-config"),
    row("--seed", "abc"),
    row("--speed", "nan"),
    row("--speed", "-1"),
    row("--rate", "inf"),
    row("--extra-tags", "-1"),
    row("--extra-tags", "100000000", "--print-config"),
    row("--extra-rate", "0"),
    row("--episode-every", "-1"),
    row("--ground-truth", "{binary}"),
    row("--record", "{folder}"),
    row("--record", "{missing_folder}/r.csv"),
    row("--security", "None_None"),
    row("--certificate", "{missing}", "--private-key", "{missing}", "--security", "Basic256Sha256_Sign"),
    row("--private-key", "{folder}"),
    row("--client-certificate", "{binary}", "--print-config"),
    row("--client-private-key", "{binary}", "--print-config"),
    row("--trust-dir", "{missing_folder}", "--print-config"),
    row("--user", "x"),
    row("--password-env", "NOPE", "--user", "x"),
    row("force", "--url", "not-a-url", "drillrig1.torque", "5"),
    row("force", "drillrig1.torque", "many"),
    row("force", "--timeout", "-1", "drillrig1.torque", "5"),
    row("force", "--user", "x", "drillrig1.torque", "5"),
    row("--config", "{binary}", subprocess=True),
]

# Options of plc-sim that take no value: given in the rows above with others, not on their own.
PLC_SIM_FLAGS = {"--help", "--fault-tags", "--secure-only", "--print-config", "--verbose"}


# shopfloor-sim: each option that takes a value gets a bad one (and combinations that cannot work).
SHOPFLOOR_SIM_ROWS: list[Row] = [
    row("--broker", "mqtt://127.0.0.1:1883"),  # no --id
    row("--id", "sf1", "--broker", "http://127.0.0.1:1883"),
    row("--id", "sf1", "--broker", "mqtt://127.0.0.1"),
    row("--id", "sf1", "--broker", "mqtt://127.0.0.1:99999"),
    row("--id", "sf1", "--broker", "mqtt://user@127.0.0.1:1883/x"),
    row("--id", "BAD ID!"),
    row("--id", "sf1,sf1"),
    row("--id", BIG),
    row("--id", "sf1", "--capacity", "0"),
    row("--id", "sf1", "--capacity", "nan"),
    row("--id", "sf1,sf2,sf3", "--capacity", "1200,900"),
    row("--id", "sf1", "--speed", "nan"),
    row("--id", "sf1", "--defect-rate", "1"),
    row("--id", "sf1", "--seed", "abc"),
    row("--id", "sf1", "--state-dir", "{binary}"),
    row("--id", "sf1", "--state-dir", "{missing_folder}/state"),
    row("--id", "sf1", "--resend-s", "0"),
    row("--id", "sf1", "--fault-id", "sf9", "--die-after", "5"),
    row("--id", "sf1", "--fault-id", "sf1"),
    row("--id", "sf1", "--die-after", "-1"),
    row("--id", "sf1", "--stall-after", "soon"),
    row("--id", "sf1", "--stall-for", "5"),
    row("--id", "sf1", "--stop-reporting-after", "nan"),
    row("--id", "sf1", "--malformed-every", "0"),
    row("--id", "sf1", "--machine-stop-after", "-1"),
    row("--id", "sf1", "--machine-stop-for", "5"),
    row("--id", "sf1", "--machine-stops-every", "0.5"),
    row("--id", "sf1", "--machine-stops-every", "nan"),
    row("--id", "sf1", "--machine-stops-every", "often"),
    row("--id", "sf1", "--capacity", "-5", subprocess=True),
]

# Options of shopfloor-sim that take no value.
SHOPFLOOR_SIM_FLAGS = {"--help"}

def _row_id(r: Row) -> str:
    words = [a if len(a) < 40 else f"<{len(a)} chars>" for a in r.argv]
    return " ".join(words) + (" (process)" if r.subprocess else "")


# --- the sandbox --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> Path:
    """A migrated SQLite database with users anna (admin), olga (operator), eve (engineer) and some history."""
    path = tmp_path_factory.mktemp("seed") / "plant.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    login.create_first_admin(engine, "anna", PW, workstation="ws-1")
    admin = CommandService(engine, lambda: SessionUser("anna", "admin"), "ws-1")
    for name, role in (("olga", "operator"), ("eve", "engineer")):
        user_admin.add_user(admin, name, role, PW)
    from datetime import datetime, timedelta, timezone

    from hmi.domain.shopfloor import Activity, Heartbeat, iso
    from hmi.services.orders import OrderService
    from hmi.store import orders as order_store

    day = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
    planner = OrderService(admin, clock=lambda: day)
    planner.receive_material("PET", 10, "kg")
    assert planner.create_order("Cola 500ml", 1000, "PET", day + timedelta(days=1)).order_id == ORDER
    with engine.begin() as conn:
        order_store.record_heartbeat(conn, Heartbeat("sf1", 1000.0, Activity.IDLE, 0, iso(day), 1), day)
    import time

    now_us = int(time.time() * 1e6)
    rows = [(TAG, now_us - k * 1_000_000, 100.0 + k, int(Quality.GOOD)) for k in range(1, 60)]
    with engine.begin() as conn:
        ingest.write_rows(conn, rows, {})
    engine.dispose()
    return path


def _content(path: Path) -> str:
    """A hash of an SQLite database's rows and schema (what a reader sees, the WAL included)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


class Sandbox:
    """A folder a command runs in, with the files the table's placeholders name."""

    def __init__(self, root: Path, seeded: Path) -> None:
        self.root = root
        home = root / "home"
        self.env = {
            "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
            "HMI_DATA_DIR": str(root / "hmi-data"), "HMI_WORKSTATION": "ws-hostile",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "TZ": "UTC",
        }  # fmt: skip
        home.mkdir()
        self.db_path = root / "plant.sqlite"
        self.db_path.write_bytes(seeded.read_bytes())
        (root / "empty.sqlite").write_bytes(b"")
        (root / "random.bin").write_bytes(hashlib.sha512(b"hostile").digest() * 64 + bytes(range(256)))
        (root / "a folder").mkdir()
        (root / "a folder" / "kept.txt").write_text("kept\n")
        plant = resource_text("plant.toml")
        (root / "plant.toml").write_text(plant, encoding="utf-8")
        bad = plant.replace("range = [0.0, 200.0]\nband = [50.0, 150.0]", "range = [-1000.0, 1000.0]\nband = [-900.0, 5000.0]", 1)
        (root / "bad-band.toml").write_text(bad, encoding="utf-8")
        overlapping = ('[[shifts.shift]]\nname = "early"\nstart = "06:00"\nend = "14:00"\n'
                       '[[shifts.shift]]\nname = "late"\nstart = "13:00"\nend = "22:00"\n')
        (root / "bad-shifts.toml").write_text(plant + "\n" + overlapping, encoding="utf-8")
        self.places = {
            "missing": str(root / "missing.toml"),
            "binary": str(root / "random.bin"),
            "folder": str(root / "a folder"),
            "missing_folder": str(root / "no such folder"),
            "config": str(root / "plant.toml"),
            "bad_band": str(root / "bad-band.toml"),
            "bad_shifts": str(root / "bad-shifts.toml"),
            "db": f"sqlite:///{self.db_path}",
            "nodb": f"sqlite:///{root / 'nowhere' / 'new.sqlite'}",
            "dirdb": f"sqlite:///{root / 'a folder'}",
            "bindb": f"sqlite:///{root / 'random.bin'}",
            "emptydb": f"sqlite:///{root / 'empty.sqlite'}",
            "badurl": "mysql://root@db/hmi",
        }

    def fill(self, argv: tuple[str, ...]) -> list[str]:
        """The arguments with {placeholders} replaced by sandbox paths."""
        out = []
        for arg in argv:
            for key, value in self.places.items():
                arg = arg.replace("{" + key + "}", value)
            out.append(arg)
        return out

    def snapshot(self, *, skip: Path | None = None) -> dict[str, tuple[str, str]]:
        """Every file and folder below the root with its content hash (SQLite companions aside)."""
        found: dict[str, tuple[str, str]] = {}
        for path in sorted(self.root.rglob("*")):
            rel = str(path.relative_to(self.root))
            if rel.endswith(SQLITE_COMPANIONS) or path == skip:
                continue
            if path.is_dir():
                found[rel] = ("dir", "")
            elif path.suffix == ".sqlite" and path.stat().st_size:
                found[rel] = ("database", _content(path))  # a change may sit in the -wal file
            else:
                found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        return found

    def audit_count(self) -> tuple[int, str | None]:
        """The number of audit records and the result of the newest."""
        engine = make_engine(self.places["db"])
        try:
            with engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
                last = conn.execute(select(audit_log.c.result).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
        finally:
            engine.dispose()
        return n, last


@pytest.fixture
def sandbox(tmp_path, seeded_db, monkeypatch) -> Iterator[Sandbox]:
    """A sandbox the command runs in: its environment set, the working directory inside it."""
    import keyring
    from keyring.backends import fail

    (tmp_path / "box").mkdir()
    box = Sandbox(tmp_path / "box", seeded_db)
    for name in list(os.environ):
        if name.startswith("HMI_SECRET_"):
            monkeypatch.delenv(name)
    for name, value in box.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(box.root)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield box
    keyring.set_keyring(previous)


# --- running a row ------------------------------------------------------------------------------------


def run_in_process(entry, argv: list[str], stdin: str, capsys, monkeypatch) -> tuple[int, str]:
    """Call an entry point's main(argv) as the console script would; (exit code, stderr)."""
    from hmi.commands import acting

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(acting.STDIN, "used", 0)
    capsys.readouterr()
    try:
        code = entry(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


def run_process(module: str, argv: list[str], stdin: str, box: Sandbox) -> tuple[int, str]:
    """Run ``python -m module argv`` in the sandbox; (exit code, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMI_SECRET_")} | box.env
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", module, *argv], input=stdin, capture_output=True, text=True,
                          cwd=box.root, env=env, timeout=120)  # fmt: skip
    return done.returncode, done.stderr


def check(r: Row, code: int, err: str, before: dict, after: dict) -> None:
    assert "Traceback" not in err, err
    assert code not in (0, None), f"exit {code}; stderr: {err}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"{len(lines)} lines on stderr: {err[:2000]}"
    assert len(lines[0]) <= 2100, f"a {len(lines[0])}-character line on stderr"
    created = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    assert (created, removed, changed) == ([], [], []), f"created {created}, removed {removed}, changed {changed}"


@pytest.mark.parametrize("r", HMI_ROWS, ids=_row_id)
def test_hmi_refuses_in_one_line_and_changes_nothing(r, sandbox, capsys, monkeypatch):
    argv = sandbox.fill(r.argv)
    audit_before = sandbox.audit_count()
    before = sandbox.snapshot(skip=sandbox.db_path if r.audited or r.login_only else None)
    if r.subprocess:
        code, err = run_process("hmi.cli", argv, r.stdin, sandbox)
    else:
        code, err = run_in_process(main, argv, r.stdin, capsys, monkeypatch)
    check(r, code, err, before, sandbox.snapshot(skip=sandbox.db_path if r.audited or r.login_only else None))
    n, last = sandbox.audit_count()
    if r.audited:
        assert n > audit_before[0] and last in ("refused", "denied", "failed"), (audit_before, n, last)
    elif r.login_only:
        assert (n, last) == (audit_before[0] + 1, "ok")
    else:
        assert n == audit_before[0]


@pytest.mark.parametrize("r", PLC_SIM_ROWS, ids=_row_id)
def test_plc_sim_refuses_in_one_line_and_changes_nothing(r, sandbox, capsys, monkeypatch):
    import plc_sim.__main__ as plc_main

    class Accepted(BaseException):  # not an Exception: plc-sim's main turns those into one line
        pass

    async def never_serve(server):  # noqa: ANN001, ANN202 - a row that gets this far has been accepted
        raise Accepted(f"plc-sim accepted {r.argv} and would serve")

    monkeypatch.setattr(plc_main, "_serve", never_serve)
    argv = sandbox.fill(r.argv)
    before = sandbox.snapshot()
    if r.subprocess:
        code, err = run_process("plc_sim", argv, r.stdin, sandbox)
    else:
        code, err = run_in_process(plc_main.main, argv, r.stdin, capsys, monkeypatch)
    check(r, code, err, before, sandbox.snapshot())


@pytest.mark.parametrize("r", SHOPFLOOR_SIM_ROWS, ids=_row_id)
def test_shopfloor_sim_refuses_in_one_line_and_changes_nothing(r, sandbox, capsys, monkeypatch):
    import shopfloor_sim.__main__ as sf_main

    def never_run(plan):  # noqa: ANN001, ANN202 - a row that gets this far has been accepted
        raise AssertionError(f"shopfloor-sim accepted {r.argv} and would run")

    monkeypatch.setattr(sf_main, "_run", never_run)
    argv = sandbox.fill(r.argv)
    before = sandbox.snapshot()
    if r.subprocess:
        code, err = run_process("shopfloor_sim", argv, r.stdin, sandbox)
    else:
        code, err = run_in_process(sf_main.main, argv, r.stdin, capsys, monkeypatch)
    check(r, code, err, before, sandbox.snapshot())

# --- the table covers every command -------------------------------------------------------------------


def _commands(parser) -> list[str]:  # noqa: ANN001
    """Every `noun verb` (or `noun`) the parser offers, as `hmi --help` and `hmi NOUN --help` list them."""
    import argparse

    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # the names --help lists, without aliases
                child = action.choices[choice.dest]
                below = _commands(child)
                found += [f"{choice.dest} {b}" for b in below] if below else [choice.dest]
    return found


def _command_of(argv: tuple[str, ...], commands: list[str]) -> str:
    words = [a for a in argv if not a.startswith("-")]
    for size in (2, 1):
        if " ".join(words[:size]) in commands:
            return " ".join(words[:size])
    return "gui" if not argv or argv[0].startswith("-") else "?"


def test_every_command_has_a_row(capsys):
    commands = _commands(build_parser())
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert all(c.split()[0] in listed for c in commands)
    assert {"history export", "alarm ack", "user add", "collect", "db upgrade"} <= set(commands)
    covered = {_command_of(r.argv, commands) for r in HMI_ROWS}
    assert sorted(set(commands) - covered) == [], "commands without a row in HMI_ROWS"


def test_every_plc_sim_option_has_a_row():
    from plc_sim.__main__ import build_parser as plc_parser

    options = {a.option_strings[-1] for a in plc_parser()._actions if a.option_strings}
    covered = {a for r in PLC_SIM_ROWS for a in r.argv if a.startswith("--")}
    assert sorted(options - PLC_SIM_FLAGS - covered) == [], "plc-sim options without a row in PLC_SIM_ROWS"
    assert any(r.argv[:1] == ("force",) for r in PLC_SIM_ROWS)


def test_every_shopfloor_sim_option_has_a_row():
    from shopfloor_sim.__main__ import build_parser as sf_parser

    options = {a.option_strings[-1] for a in sf_parser()._actions if a.option_strings}
    covered = {a for r in SHOPFLOOR_SIM_ROWS for a in r.argv if a.startswith("--")}
    assert sorted(options - SHOPFLOOR_SIM_FLAGS - covered) == [], "shopfloor-sim options without a row in SHOPFLOOR_SIM_ROWS"


# --- item 9: a read never creates a database; item 8: an export fails whole ----------------------------

READS = [
    ["history", "tags"], ["history", "export", "--tag", TAG], ["audit", "verify"], ["audit", "list", "--user", "anna"],
    ["alarm", "list"], ["alarm", "journal"], ["alarm", "health"], ["user", "list", "--user", "anna"],
    ["alarm", "ack", "drillrig1.pressure.hi", "--user", "olga"],
    ["order", "list", "--user", "anna"], ["shopfloor", "list", "--user", "anna"],
    ["production", "report", "--from", "-1h", "--user", "anna"], ["oee", "--from", "-1d"],
]  # fmt: skip


@pytest.mark.parametrize("argv", READS, ids=" ".join)
def test_a_read_on_a_missing_database_creates_nothing_and_says_how_to_create_it(argv, sandbox, capsys, monkeypatch):
    path = sandbox.root / "nowhere" / "deeper" / "h.sqlite"
    code, err = run_in_process(main, [*argv, "--db", f"sqlite:///{path}"], LOGIN, capsys, monkeypatch)
    command = " ".join(argv[:1])
    assert (code, err) == (1, f"hmi {command}: no database at {path}; create it with hmi db upgrade (or give another --db)\n")
    assert not (sandbox.root / "nowhere").exists()


def test_a_read_of_the_configured_default_database_creates_no_data_folder(sandbox, capsys, monkeypatch):
    data = Path(sandbox.env["HMI_DATA_DIR"])
    code, err = run_in_process(main, ["alarm", "list"], "", capsys, monkeypatch)
    assert code == 1 and f"no database at {data / 'historian.sqlite'}" in err
    assert not data.exists()


def test_commands_that_create_a_database_still_do(sandbox, capsys, monkeypatch):
    first = sandbox.root / "new" / "one" / "h.sqlite"
    assert run_in_process(main, ["db", "upgrade", "--db", f"sqlite:///{first}"], "", capsys, monkeypatch)[0] == 0
    assert first.is_file()
    second = sandbox.root / "new" / "two" / "h.sqlite"
    argv = ["user", "add", "root", "--role", "admin", "--password-stdin", "--db", f"sqlite:///{second}"]
    assert run_in_process(main, argv, LOGIN, capsys, monkeypatch)[0] == 0
    from hmi.store.users import list_users

    engine = make_engine(f"sqlite:///{second}", must_exist=True)
    assert [(u.name, u.role) for u in list_users(engine)] == [("root", "admin")]
    engine.dispose()


def test_a_schema_older_than_the_program_is_refused_without_migrating(sandbox, capsys, monkeypatch):
    path = sandbox.root / "old.sqlite"
    upgrade(f"sqlite:///{path}", "0002")
    code, err = run_in_process(main, ["alarm", "list", "--db", f"sqlite:///{path}"], "", capsys, monkeypatch)
    assert code == 1 and "has schema revision 0002" in err and "hmi db upgrade" in err
    from hmi.store.migrate import current_revision

    assert current_revision(f"sqlite:///{path}") == "0002"


@pytest.mark.parametrize("where", ["{missing_folder}/out.csv", "{folder}", "{binary}/out.csv"])
def test_history_export_to_a_place_it_cannot_write_leaves_nothing(where, sandbox, capsys, monkeypatch):
    argv = sandbox.fill(("history", "export", "--tag", TAG, "--db", "{db}", "-o", where))
    before = sandbox.snapshot()
    code, err = run_in_process(main, argv, "", capsys, monkeypatch)
    assert code == 1 and err.startswith(f"hmi history: cannot write {argv[-1]}: ") and err.count("\n") == 1
    assert sandbox.snapshot() == before
    assert not list(sandbox.root.rglob("*.part"))


def test_history_export_that_fails_midway_leaves_no_part_file(sandbox, capsys, monkeypatch):
    from hmi.store import queries
    from hmi.store.errors import DatabaseUnavailable

    def broken_export(engine, tag, t0, t1, out):  # noqa: ANN001, ANN202
        out.write("time_utc,value,quality\n")
        raise DatabaseUnavailable("database sqlite:///x is unavailable: disk I/O error; check the disk")

    monkeypatch.setattr(queries, "export_csv", broken_export)
    target = sandbox.root / "out.csv"
    argv = sandbox.fill(("history", "export", "--tag", TAG, "--db", "{db}", "-o", str(target)))
    code, err = run_in_process(main, argv, "", capsys, monkeypatch)
    assert code == 1 and "disk I/O error" in err
    assert not target.exists() and not list(sandbox.root.rglob("*.part"))
