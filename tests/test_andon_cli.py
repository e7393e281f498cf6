"""`hmi andon ...` and `hmi downtime ...` as a user runs them: steps audited, refusals in words, --format json."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from hmi.cli import main
from hmi.config import parse_config
from hmi.domain.andon import LineKind, Origin
from hmi.resources import resource_text
from hmi.services.andon import AndonService
from hmi.store.audit import AuditQuery, query
from tests.andon_support import ANDON, PW, add_users

US = 1_000_000


@pytest.fixture
def plant(engine, db_url, tmp_path, monkeypatch):
    """Users with their passwords in the environment, a config file with [andon], and one stop of sf1 an hour ago."""
    add_users(engine)
    for name in ("anna", "olga", "bob", "sam", "vic"):
        monkeypatch.setenv(f"HMI_SECRET_USER_{name.upper()}", PW)
    monkeypatch.setenv("HMI_WORKSTATION", "ws-cli")
    text = resource_text("plant.toml") + ANDON
    path = tmp_path / "plant.toml"
    path.write_text(text, encoding="utf-8")
    andon = AndonService(engine, parse_config(text))
    now = int(time.time() * US)
    andon.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam at the capper", now - 3600 * US)
    andon.cause_ended("sf1", Origin.MACHINE, now - 3000 * US)  # ten minutes
    return db_url, str(path)


def hmi(plant, *args: str) -> int:
    db_url, config = plant
    return main([args[0], args[1], "--db", db_url, "--config", config, *args[2:]])


def listed(plant, capsys, *args: str) -> list[dict]:
    assert hmi(plant, *args, "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


def test_raise_ack_resolve_list_end_to_end(plant, engine, capsys):
    [stop_call] = listed(plant, capsys, "andon", "list")
    assert (stop_call["line"], stop_call["state"], stop_call["cleared"], stop_call["origin"]) == ("sf1", "open", True,
                                                                                                 "machine")  # fmt: skip
    assert hmi(plant, "andon", "raise", "--line", "sf2", "--category", "material", "--note", "out of caps",
               "--user", "olga") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("raised call ") and "sf2: material (out of caps)" in out
    calls = listed(plant, capsys, "andon", "list")
    assert [c["line"] for c in calls] == ["sf1", "sf2"]
    manual = calls[1]
    cid = str(manual["call_id"])
    assert (manual["raised_by"], manual["category"], manual["detail"]) == ("olga", "material", "out of caps")
    assert hmi(plant, "andon", "ack", cid, "--note", "coming", "--user", "bob") == 0
    assert f"call {cid} on sf2: acknowledged by bob" in capsys.readouterr().out
    # a second acknowledge is told who was first, and audited as refused
    assert hmi(plant, "andon", "ack", cid, "--user", "olga") == 1
    assert f"call {cid} was already acknowledged by bob at " in capsys.readouterr().err
    assert hmi(plant, "andon", "resolve", cid, "--reason", "changeover", "--user", "bob") == 1
    assert "bob (operator) may not resolve andon" in capsys.readouterr().err
    assert hmi(plant, "andon", "resolve", cid, "--reason", "lunch", "--user", "sam") == 1
    assert "unknown reason code 'lunch'; reason codes are: mechanical, changeover, planned_maintenance" in \
        capsys.readouterr().err
    assert hmi(plant, "andon", "resolve", cid, "--reason", "changeover", "--note", "caps found", "--user", "sam") == 0
    assert f"call {cid} on sf2: resolved by sam (changeover)" in capsys.readouterr().out
    assert [c["line"] for c in listed(plant, capsys, "andon", "list")] == ["sf1"]
    everything = listed(plant, capsys, "andon", "list", "--all", "--line", "sf2", "--since", "-1d")
    assert [(c["state"], c["reason_code"], c["resolved_by"]) for c in everything] == [("resolved", "changeover", "sam")]
    audit = [(r.entry.user, r.entry.action, r.entry.result) for r in query(engine, AuditQuery(newest_first=False))
             if "andon" in r.entry.action]  # fmt: skip
    assert audit == [("olga", "raise_andon", "ok"), ("bob", "ack_andon", "ok"), ("olga", "ack_andon", "refused"),
                     ("bob", "resolve_andon", "denied"), ("sam", "resolve_andon", "refused"),
                     ("sam", "resolve_andon", "ok")]  # fmt: skip
    # the table and CSV show the same calls
    assert hmi(plant, "andon", "list", "--all") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["call", "line", "state"] and len(table) == 3
    assert hmi(plant, "andon", "list", "--all", "--format", "csv") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][0] == "call" and [r[1] for r in rows[1:]] == ["sf1", "sf2"]


def test_downtime_list_reason_and_pareto(plant, engine, capsys):
    [stop] = listed(plant, capsys, "downtime", "list")
    assert (stop["line"], stop["origin"], stop["reason_code"], stop["micro"]) == ("sf1", "machine", None, False)
    assert stop["end_us"] - stop["start_us"] == 600 * US
    did = str(stop["downtime_id"])
    assert hmi(plant, "downtime", "reason", did, "--reason", "planned_maintenance", "--note", "PM", "--user",
               "sam") == 0  # fmt: skip
    assert f"downtime {did} on sf1: reason planned_maintenance (planned)" in capsys.readouterr().out
    [stop] = listed(plant, capsys, "downtime", "list", "--line", "sf1", "--from", "-2h")
    assert (stop["reason_code"], stop["planned"], stop["note"], stop["entered_by"]) == ("planned_maintenance", True,
                                                                                        "PM", "sam")  # fmt: skip
    assert listed(plant, capsys, "downtime", "list", "--line", "sf2") == []
    bars = listed(plant, capsys, "downtime", "pareto", "--from", "-90m", "--to", "-55m")  # clips the stop to 5 min
    assert [(b["key"], b["label"], b["seconds"], b["count"]) for b in bars] == [
        ("planned_maintenance", "Planned maintenance", pytest.approx(300, abs=2), 1)]
    assert bars[0]["share"] == 1.0 and bars[0]["cumulative"] == 1.0
    bars = listed(plant, capsys, "downtime", "pareto", "--from", "-1d", "--by", "line")
    assert [(b["key"], b["seconds"]) for b in bars] == [("sf1", 600.0)]
    assert hmi(plant, "downtime", "reason", did, "--reason", "mechanical", "--user", "olga") == 1
    assert "olga (operator) may not resolve andon" in capsys.readouterr().err
    assert hmi(plant, "downtime", "reason", "77", "--reason", "mechanical", "--user", "sam") == 1
    assert "no downtime record 77" in capsys.readouterr().err
    assert hmi(plant, "downtime", "pareto", "--from", "now", "--to", "-1h") == 1
    assert "is not after --from" in capsys.readouterr().err
