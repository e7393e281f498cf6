"""`hmi alarm ...` as a user runs it: the state from the journal, commands journaled and audited, refusals in words."""

from __future__ import annotations

import time

import pytest
from openpyxl import load_workbook

from hmi.cli import main
from hmi.config import load_config
from hmi.domain.alarm_engine import AlarmEvent, AlarmState
from hmi.domain.alarm_journal import journal_entry, twin_of
from hmi.domain.session import SessionUser
from hmi.resources import resource_text
from hmi.services import login, user_admin
from hmi.services.commands import CommandService
from hmi.store import alarm_journal
from hmi.store.audit import AuditQuery, query

PW = "Control room 42"
ALARM = "drillrig1.pressure.hi"


@pytest.fixture
def plant(engine, db_url, monkeypatch):
    """Users olga (operator), sam (shift supervisor), eve (engineer) and one activation of ALARM in the journal."""
    login.create_first_admin(engine, "anna", PW, workstation="ws-1")
    admin = CommandService(engine, lambda: SessionUser("anna", "admin"), "ws-1")
    for name, role in (("olga", "operator"), ("sam", "shift_supervisor"), ("eve", "engineer")):
        user_admin.add_user(admin, name, role, PW)
        monkeypatch.setenv(f"HMI_SECRET_USER_{name.upper()}", PW)
    monkeypatch.setenv("HMI_WORKSTATION", "ws-cli")
    defs = {d.alarm_id: d for d in load_config().alarm_definitions()}
    d = defs[ALARM]
    activate = AlarmEvent(time.time() - 60, ALARM, AlarmState.NORMAL, AlarmState.UNACK, "activate", 64.5)
    alarm_journal.append_many(engine, [journal_entry(activate, d, twin_of(d), "ws-1")])
    return db_url


def hmi(db_url: str, *args: str) -> int:
    return main(["alarm", args[0], "--db", db_url, *args[1:]])


def test_list_shows_the_journal_state(plant, capsys):
    assert hmi(plant, "list") == 0
    out = capsys.readouterr().out
    assert "UNACKNOWLEDGED" in out and ALARM in out and "64.5" in out and "P3" in out
    assert hmi(plant, "list", "--twin", "wellhead1") == 0
    assert ALARM not in capsys.readouterr().out


def test_ack_is_journaled_and_audited(plant, engine, capsys):
    assert hmi(plant, "ack", ALARM, "--comment", "seen on camera", "--user", "olga") == 0
    assert f"{ALARM}: UNACKNOWLEDGED -> acknowledged" in capsys.readouterr().out
    ack = alarm_journal.query(engine, alarm_journal.JournalQuery(what=["ack"]))
    assert [(e.user, e.comment, e.workstation, e.to_state) for e in ack] == [
        ("olga", "seen on camera", "ws-cli", AlarmState.ACKED)
    ]
    records = [r.entry for r in query(engine, AuditQuery(action="ack_alarm"))]
    assert [(r.user, r.target, r.result) for r in records] == [("olga", ALARM, "ok")]
    hmi(plant, "list")
    assert "acknowledged" in capsys.readouterr().out
    # a second acknowledgement is refused in words, and audited as refused
    assert hmi(plant, "ack", ALARM, "--user", "olga") == 1
    assert "cannot acknowledge drillrig1.pressure.hi: it is acked, not unacknowledged" in capsys.readouterr().err


def test_ack_all_unacked(plant, engine, capsys):
    assert hmi(plant, "ack", "--all-unacked", "--user", "olga") == 0
    assert ALARM in capsys.readouterr().out
    assert hmi(plant, "ack", "--all-unacked", "--user", "olga") == 0
    assert "no unacknowledged alarms" in capsys.readouterr().err


def test_shelve_needs_the_role_a_reason_and_a_time_within_the_maximum(plant, engine, capsys):
    assert hmi(plant, "shelve", ALARM, "--for", "2h", "--reason", "sensor swap", "--user", "olga") == 1
    assert "olga (operator) may not shelve alarm" in capsys.readouterr().err
    assert hmi(plant, "shelve", ALARM, "--for", "soon", "--reason", "x", "--user", "sam") == 1
    assert "'soon' is not a duration" in capsys.readouterr().err
    assert hmi(plant, "shelve", ALARM, "--for", "9h", "--reason", "x", "--user", "sam") == 1
    assert "the maximum is 28800 s" in capsys.readouterr().err
    assert hmi(plant, "shelve", ALARM, "--for", "1h30m", "--reason", "sensor swap", "--user", "sam") == 0
    assert "-> shelved for 1 h 30 min" in capsys.readouterr().out
    shelve = alarm_journal.query(engine, alarm_journal.JournalQuery(what=["shelve"]))[0]
    assert shelve.until == pytest.approx(shelve.ts + 5400) and shelve.comment == "sensor swap"
    assert hmi(plant, "unshelve", ALARM, "--user", "sam") == 0
    assert "shelved -> UNACKNOWLEDGED" in capsys.readouterr().out  # still active: it comes back unacknowledged


def test_out_of_service_is_for_engineers(plant, capsys):
    assert hmi(plant, "out-of-service", ALARM, "--reason", "transmitter removed", "--user", "sam") == 1
    assert "may not suppress alarm" in capsys.readouterr().err
    assert hmi(plant, "out-of-service", ALARM, "--reason", "transmitter removed", "--user", "eve") == 0
    assert hmi(plant, "return", ALARM, "--user", "eve") == 0
    assert "out of service -> UNACKNOWLEDGED" in capsys.readouterr().out


def test_an_unknown_alarm_is_named(plant, capsys):
    assert hmi(plant, "ack", "drillrig1.presure.hi", "--user", "olga") == 1
    assert "there is no alarm 'drillrig1.presure.hi'" in capsys.readouterr().err


def test_journal_lists_and_exports_audited(plant, engine, tmp_path, capsys):
    hmi(plant, "ack", ALARM, "--user", "olga")
    capsys.readouterr()
    assert hmi(plant, "journal", "--since", "-1h") == 0
    out = capsys.readouterr().out
    assert "activate" in out and "ack" in out and "olga" in out
    assert hmi(plant, "journal", "--by", "olga") == 0
    assert "activate" not in capsys.readouterr().out
    path = tmp_path / "journal.xlsx"
    assert hmi(plant, "journal", "--export", str(path), "--user", "olga") == 1  # operators may not export
    assert "may not export report" in capsys.readouterr().err and not path.exists()
    assert hmi(plant, "journal", "--export", str(path), "--user", "sam") == 0
    sheet = load_workbook(path).active
    texts = [c.value for row in sheet.iter_rows() for c in row]
    assert ALARM in texts and "olga" in texts
    assert [r.entry.result for r in query(engine, AuditQuery(action="export_report"))] == ["ok", "requested", "denied"]
    assert hmi(plant, "journal", "--export", str(tmp_path / "j.pdf"), "--user", "sam") == 1
    assert "name the file .csv or .xlsx" in capsys.readouterr().err


def test_health_prints_findings_and_exports(plant, tmp_path, capsys):
    assert hmi(plant, "health", "--since", "-1h") == 0
    out = capsys.readouterr().out
    assert "1 alarms" in out or "1 alarm" in out
    path = tmp_path / "health.xlsx"
    assert hmi(plant, "health", "--export", str(path), "--user", "sam") == 0
    assert "Summary" in load_workbook(path).sheetnames
    assert hmi(plant, "health", "--since", "now", "--until", "-1h") == 1
    assert "is not after --since" in capsys.readouterr().err


def test_mail_test_reaches_a_real_server(plant, smtp_server, tmp_path, capsys):
    config = tmp_path / "plant.toml"
    config.write_text(
        resource_text("plant.toml")
        + f'\n[alarms.mail]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\ntls = "none"\n'
        + 'sender = "hmi@plant.test"\nto = ["room@plant.test"]\n',
        encoding="utf-8",
    )
    assert main(["alarm", "mail-test", "--config", str(config), "--db", plant]) == 0
    assert smtp_server.wait_for(1)[0].rcpt_tos == ["room@plant.test"]
    assert main(["alarm", "mail-test", "--db", plant]) == 1
    assert "no [alarms.mail] section" in capsys.readouterr().err


def test_a_shelving_whose_time_is_up_has_ended_even_with_no_workstation_running(plant, capsys):
    assert hmi(plant, "shelve", ALARM, "--for", "1s", "--reason", "bump test", "--user", "sam") == 0
    hmi(plant, "list")
    assert "shelved" in capsys.readouterr().out
    time.sleep(1.2)
    hmi(plant, "list")
    assert "UNACKNOWLEDGED" in capsys.readouterr().out
    assert hmi(plant, "ack", ALARM, "--user", "olga") == 0
