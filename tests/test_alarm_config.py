"""Alarm settings: definitions from the band, HIHI/LOLO and overrides from [alarms], and named mistakes."""

from __future__ import annotations

import pytest

from hmi.config import ConfigError, load_config, parse_config
from hmi.domain.alarm_defs import (
    AlarmDefinition,
    AlarmKind,
    AlarmOverride,
    TagAlarmSettings,
    anomaly_definitions,
    configure,
    default_definitions,
    settings_limits,
)
from hmi.resources import resource_text

PLANT = resource_text("plant.toml")
# The packaged plant without its [alarms.*] tables, so each test states the settings it needs.
BARE = PLANT[: PLANT.index("\n[alarms.tags.") + 1] + PLANT[PLANT.index("\n[[endpoints]]") + 1 :]


def defs_of(extra: str = "") -> dict[str, AlarmDefinition]:
    config = parse_config(BARE + "\n" + extra, "plant.toml")
    return {d.alarm_id: d for d in config.alarm_definitions()}


def problem(extra: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(BARE + "\n" + extra, "plant.toml")
    message = str(err.value)
    assert message.startswith("plant.toml: ")
    return message


def test_defaults_come_from_the_band() -> None:
    defs = defs_of()
    hi, lo = defs["drillrig1.torque.hi"], defs["drillrig1.torque.lo"]
    assert (hi.kind, hi.limit, hi.priority, hi.on_delay_s, hi.off_delay_s) == (AlarmKind.HI, 150.0, 3, 3.0, 3.0)
    assert (lo.limit, lo.deadband) == (50.0, 2.0)  # 1 % of the 0-200 Nm range
    assert not any(d.kind in (AlarmKind.HIHI, AlarmKind.LOLO) for d in defs.values())
    assert defs["plc1.comm_loss"].priority == 2
    anomaly = defs["drillrig1.torque.anomaly"]
    assert (anomaly.kind, anomaly.limit, anomaly.priority, anomaly.message) == (
        AlarmKind.ANOMALY, 3.0, 4, "Drill Rig 1 torque unusual (|z| > 3)")
    # discrete and setpoint tags have no alarms
    assert not [i for i in defs if i.startswith(("compressor1.status.", "drillrig1.setpoint."))]


def test_hihi_and_lolo_where_given_and_hi_lo_moved() -> None:
    defs = defs_of('[alarms.tags."pipeline1.pressure"]\nhihi = 70.0\nlolo = 5.0\nhi = 55.0\n')
    hihi, lolo = defs["pipeline1.pressure.hihi"], defs["pipeline1.pressure.lolo"]
    assert (hihi.limit, hihi.priority, hihi.on_delay_s) == (70.0, 1, 1.0)
    assert (lolo.limit, lolo.priority) == (5.0, 1)
    assert "high-high (limit 70 bar)" in hihi.message
    assert defs["pipeline1.pressure.hi"].limit == 55.0 and "limit 55 bar" in defs["pipeline1.pressure.hi"].message
    assert defs["pipeline1.pressure.lo"].limit == 10.0  # still the band
    assert "wellhead1.pressure.hihi" not in defs  # only where given


def test_nested_tables_mean_the_same_as_quoted_keys() -> None:
    quoted = defs_of('[alarms.tags."pipeline1.pressure"]\nhihi = 70.0\n[alarms.alarms."plc1.comm_loss"]\npriority = 1\n')
    nested = defs_of("[alarms.tags.pipeline1.pressure]\nhihi = 70.0\n[alarms.alarms.plc1.comm_loss]\npriority = 1\n")
    assert quoted == nested
    assert nested["pipeline1.pressure.hihi"].limit == 70.0 and nested["plc1.comm_loss"].priority == 1


def test_tag_settings_and_per_alarm_overrides() -> None:
    defs = defs_of(
        '[alarms.tags."drillrig1.torque"]\nhihi = 180.0\ndeadband = 5.0\non_delay_s = 10.0\n'
        '[alarms.alarms."drillrig1.torque.hihi"]\non_delay_s = 0.0\nmessage = "torque trip near"\n'
        '[alarms.alarms."drillrig1.torque.anomaly"]\npriority = 3\n'
        '[alarms.alarms."plc1.comm_loss"]\npriority = 1\noff_delay_s = 2.0\n'
    )
    hi, hihi = defs["drillrig1.torque.hi"], defs["drillrig1.torque.hihi"]
    assert (hi.deadband, hi.on_delay_s, hi.off_delay_s) == (5.0, 10.0, 3.0)  # tag settings, default off delay
    assert (hihi.deadband, hihi.on_delay_s, hihi.message) == (5.0, 0.0, "torque trip near")  # the alarm wins
    anomaly = defs["drillrig1.torque.anomaly"]
    assert (anomaly.priority, anomaly.deadband, anomaly.on_delay_s) == (3, 0.0, 2.0)  # tag anti-chatter is for limits
    assert (defs["plc1.comm_loss"].priority, defs["plc1.comm_loss"].off_delay_s) == (1, 2.0)


def test_disabled_tags_alarms_and_anomaly_detection() -> None:
    defs = defs_of(
        '[alarms.tags."retail1.sales"]\nenabled = false\n'
        '[alarms.alarms."drillrig1.torque.lo"]\nenabled = false\n'
        '[alarms.alarms."retail1.sales.hi"]\npriority = 1\n'  # kept for when the tag is enabled again
    )
    assert not [i for i in defs if i.startswith("retail1.sales.")]
    assert "drillrig1.torque.lo" not in defs and "drillrig1.torque.hi" in defs
    defs = defs_of("[alarms.anomaly]\nenabled = false\n")
    assert not any(d.kind is AlarmKind.ANOMALY for d in defs.values())
    defs = defs_of("[alarms.anomaly]\nz = 4.5\npriority = 3\n")
    anomaly = defs["turbine1.vibration.anomaly"]
    assert (anomaly.limit, anomaly.priority, anomaly.message) == (4.5, 3, "Turbine 1 vibration unusual (|z| > 4.5)")


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ('[alarms.tags."drillrig1.torqe"]\nhihi = 190.0\n', "alarms.tags.drillrig1.torqe",
         "not a tag of the plant; did you mean 'drillrig1.torque'? tag ids are <twin>.<parameter>"),
        ("[alarms.tags.drillrig1]\nhihi = 190.0\n", "alarms.tags.drillrig1",
         'drillrig1 is a twin, not a tag: name a parameter, as in [alarms.tags."drillrig1.<parameter>"]'),
        ('[alarms.tags."nowhere.pressure"]\nhihi = 1.0\n', "alarms.tags.nowhere.pressure",
         "tag ids are <twin>.<parameter>, e.g. drillrig1.torque"),
        ('[alarms.tags."compressor1.status"]\nhi = 1.0\n', "alarms.tags.compressor1.status",
         "is a discrete tag: only analog parameters have alarm limits; remove it"),
        ('[alarms.alarms."drillrig1.torque.hihx"]\npriority = 2\n', "alarms.alarms.drillrig1.torque.hihx",
         "no such alarm; did you mean 'drillrig1.torque.hi'? alarm ids are <tag>.hihi|hi|lo|lolo|anomaly"),
        ('[alarms.alarms."plc2.comm_loss"]\npriority = 2\n', "alarms.alarms.plc2.comm_loss",
         "no such alarm; did you mean 'plc1.comm_loss'?"),
        ('[alarms.alarms."drillrig1.torque.hihi"]\npriority = 2\n', "alarms.alarms.drillrig1.torque.hihi",
         'drillrig1.torque has no hihi limit; set hihi in [alarms.tags."drillrig1.torque"] to create it'),
        ('[alarms.anomaly]\nenabled = false\n[alarms.alarms."drillrig1.torque.anomaly"]\npriority = 2\n',
         "alarms.alarms.drillrig1.torque.anomaly", "anomaly alarms are off ([alarms.anomaly] enabled = false)"),
        ('[alarms.tags."drillrig1.torque"]\nhihi = 140.0\n', "alarms.tags.drillrig1.torque",
         "limits out of order (need lolo < lo <= hi < hihi): hihi 140 must be above hi 150 (hi and lo are the band"),
        ('[alarms.tags."drillrig1.torque"]\nlolo = 50.0\n', "alarms.tags.drillrig1.torque",
         "lo 50 must be above lolo 50"),
        ('[alarms.tags."drillrig1.torque"]\nlo = 120.0\nhi = 110.0\n', "alarms.tags.drillrig1.torque",
         "hi 110 must be at or above lo 120"),
        ('[alarms.tags."drillrig1.torque"]\nhihi = 250.0\n', "alarms.tags.drillrig1.torque",
         "hihi 250 is outside the range [0, 200] Nm of drillrig1.torque, so no reading can reach it"),
        ('[alarms.tags."transformer1.voltage"]\nlolo = 80.0\n', "alarms.tags.transformer1.voltage",
         "lolo 80 is outside the range [90, 140] V"),
        ('[alarms.tags."drillrig1.torque"]\nhihi = "high"\n', "alarms.tags.drillrig1.torque.hihi",
         "valid number"),
        ('[alarms.tags."drillrig1.torque"]\nhihii = 190.0\n', "alarms.tags.drillrig1.torque.hihii",
         "unknown key (a typo?)"),
        ('[alarms.alarms."plc1.comm_loss"]\npriority = 7\n', "alarms.alarms.plc1.comm_loss.priority",
         "less than or equal to 4"),
        ("[alarms.anomaly]\nwindow = 20\nmin_samples = 30\n", "alarms.anomaly",
         "min_samples (30) must not exceed window (20)"),
        ('[alarms.tags.pipeline1.pressure]\nhihi = 70.0\n[alarms.tags."pipeline1.pressure"]\nhihi = 75.0\n',
         "alarms.tags", 'pipeline1.pressure is given twice, as [alarms.tags."pipeline1.pressure"] and as'),
    ],
)
def test_a_misconfiguration_names_the_key_and_what_to_do(extra: str, key: str, says: str) -> None:
    message = problem(extra)
    assert f"plant.toml: {key}: " in message
    assert says in message


def test_every_problem_is_named_at_once() -> None:
    message = problem('[alarms.tags."a.b"]\nhi = 1.0\n[alarms.alarms."c.d"]\npriority = 1\n')
    assert "alarms.tags.a.b: not a tag" in message and "alarms.alarms.c.d: no such alarm" in message


def test_other_mistakes_keep_their_messages() -> None:
    with pytest.raises(ConfigError, match=r"twins\.drillrig1\.endpoint: no endpoint named 'plc9'"):
        parse_config(PLANT.replace('endpoint = "plc1"', 'endpoint = "plc9"', 1), "plant.toml")
    with pytest.raises(ConfigError, match=r"twins\.drillrig1\.parameters\.torque\.sampling_msx: unknown key"):
        parse_config(PLANT.replace("sampling_ms = 1000", "sampling_msx = 1000", 1), "plant.toml")


def test_the_shipped_plant_loads_with_priority_1_alarms() -> None:
    config = load_config()
    defs = {d.alarm_id: d for d in config.alarm_definitions()}
    urgent = sorted(i for i, d in defs.items() if d.priority == 1)
    assert "pipeline1.pressure.hihi" in urgent and "pipeline1.pressure.lolo" in urgent
    assert len(urgent) >= 5
    for d in defs.values():  # HIHI/LOLO halfway between the band edge and the end of the range
        if d.kind in (AlarmKind.HIHI, AlarmKind.LOLO):
            spec = config.plant().tag(d.tag)
            edge, end = (spec.band_high, spec.eng_high) if d.kind is AlarmKind.HIHI else (spec.band_low, spec.eng_low)
            assert d.limit == pytest.approx((edge + end) / 2), d.alarm_id
    assert config.alarms.anomaly.enabled and config.alarms.mail is None
    assert {d.kind for d in defs.values()} == set(AlarmKind)


def test_the_domain_functions_apply_settings_without_the_config() -> None:
    plant = load_config().plant()
    tags = {"drillrig1.torque": TagAlarmSettings(hihi=180.0, lo=60.0, on_delay_s=2.0)}
    defs = default_definitions(plant, settings_limits(tags)) + anomaly_definitions(plant, priority=3, z=4.0)
    out = {d.alarm_id: d for d in configure(defs, tags, {"drillrig1.torque.hi": AlarmOverride(priority=2)})}
    assert out["drillrig1.torque.hihi"].limit == 180.0 and out["drillrig1.torque.lo"].limit == 60.0
    assert out["drillrig1.torque.hi"].priority == 2 and out["drillrig1.torque.hi"].on_delay_s == 2.0
    assert out["drillrig1.torque.anomaly"].priority == 3
    assert configure(defs) == defs
    assert [d.alarm_id for d in configure(defs, {}, {"plc1.comm_loss": AlarmOverride(enabled=False)})] == [
        d.alarm_id for d in defs if d.alarm_id != "plc1.comm_loss"]
