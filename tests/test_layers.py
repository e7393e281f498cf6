"""The layering the README describes: the screens and the CLI reach the store and the IO clients only
through services, and the types they share are defined once, in hmi.domain."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (where callers find it now, where store/io code and older branches still import it from)
MOVED = [
    ("hmi.domain.users", "hmi.store.users", "UserInfo"),
    ("hmi.domain.users", "hmi.store.users", "UserError"),
    ("hmi.domain.users", "hmi.store.users", "LoginRefused"),
    ("hmi.domain.users", "hmi.store.users", "AccountLocked"),
    ("hmi.domain.audit", "hmi.store.audit", "AuditQuery"),
    ("hmi.domain.audit", "hmi.store.audit", "AuditUnavailable"),
    ("hmi.domain.alarm_journal", "hmi.store.alarm_journal", "JournalQuery"),
    ("hmi.domain.historian", "hmi.store.writer", "WriterStats"),
    ("hmi.domain.errors", "hmi.store.errors", "DatabaseUnavailable"),
    ("hmi.domain.errors", "hmi.store.errors", "UnknownTag"),
    ("hmi.domain.errors", "hmi.store.db", "one_line"),
    ("hmi.domain.links", "hmi.io.link", "LinkStatus"),
    ("hmi.domain.links", "hmi.io.link", "LinkState"),
]


@pytest.mark.parametrize(("domain", "old", "name"), MOVED, ids=[f"{o}.{n}" for _, o, n in MOVED])
def test_a_shared_type_is_one_type_whichever_module_it_is_imported_from(domain, old, name):
    # Two definitions would make `except DatabaseUnavailable` or isinstance miss what the other raised.
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(domain), name)


def test_the_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for contract in ("The ui layer talks to services: no store, no IO clients",
                     "The CLI uses the services the window uses: no store, no IO clients"):  # fmt: skip
        assert f"{contract} KEPT" in out, out
