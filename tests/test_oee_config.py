"""[shifts] and [oee] in the plant config: the default calendar, the contract's example, and every mistake
named in one line."""

from __future__ import annotations

import pytest

from hmi.config import ConfigError, load_config, parse_config
from hmi.domain.oee import OeeTargets
from hmi.resources import resource_text

PLANT = resource_text("plant.toml")

EXAMPLE = """
[shifts]
timezone = "Europe/Berlin"
[[shifts.shift]]
name = "early"
start = "06:00"
end = "14:00"
days = ["mon", "tue", "wed", "thu", "fri"]
breaks = [{ start = "09:00", end = "09:15" }]
[[shifts.shift]]
name = "night"
start = "22:00"
end = "06:00"
days = ["sun", "mon", "tue", "wed", "thu"]
breaks = [{ start = "02:00", end = "02:30" }]
[[shifts.planned_stop]]
name = "weekly maintenance"
day = "fri"
start = "12:00"
end = "13:00"
[oee]
target = 0.80
availability_target = 0.90
performance_target = 0.95
quality_target = 0.99
startup_min = 15
"""


def test_without_shifts_the_plant_has_three_shifts_every_day_in_utc():
    config = load_config()
    calendar = config.shifts.calendar()
    assert calendar.timezone == "UTC"
    assert [(s.name, s.start_min, s.end_min, s.length_min, len(s.days)) for s in calendar.shifts] == [
        ("early", 360, 840, 480, 7), ("late", 840, 1320, 480, 7), ("night", 1320, 360, 480, 7)]
    assert all(len(s.breaks) == 1 and s.break_offsets()[0][1] == 30 for s in calendar.shifts)
    assert config.oee.targets() == OeeTargets() and config.oee.startup_min == 10


def test_the_contract_example_is_read():
    config = parse_config(PLANT + EXAMPLE)
    calendar = config.shifts.calendar()
    assert calendar.timezone == "Europe/Berlin"
    early, night = calendar.shifts
    assert early.days == frozenset(range(5)) and early.breaks == ((540, 555),)
    assert night.length_min == 480 and night.break_offsets() == [(240, 30)]
    assert [(p.name, p.day, p.start_min, p.end_min) for p in calendar.planned_stops] == [
        ("weekly maintenance", 4, 720, 780)]
    assert config.oee.targets() == OeeTargets(0.80, 0.90, 0.95, 0.99) and config.oee.startup_min == 15


def test_a_toml_time_is_taken_as_well():
    config = parse_config(PLANT + "[[shifts.shift]]\nname = 'day'\nstart = 07:30:00\nend = 16:00:00\n")
    assert config.shifts.calendar().shifts[0].start_min == 450


def _shift(name: str, start: str, end: str, extra: str = "") -> str:
    return f"[[shifts.shift]]\nname = '{name}'\nstart = '{start}'\nend = '{end}'\n{extra}\n"


@pytest.mark.parametrize(("extra", "message"), [
    (_shift("a", "06:00", "14:00") + _shift("b", "13:00", "21:00"),
     r"shifts: shift 'a' \(06:00-14:00\) on mon overlaps shift 'b' \(13:00-21:00\) on mon: shifts must not overlap"),
    (_shift("n", "22:00", "06:00", "days = ['sun']") + _shift("e", "05:00", "13:00", "days = ['mon']"),
     r"shift 'n' \(22:00-06:00\) on sun overlaps shift 'e' \(05:00-13:00\) on mon"),
    (_shift("a", "06:00", "14:00") + _shift("a", "14:00", "22:00"), r"shift name 'a' is given more than once"),
    (_shift("a", "06:00", "14:00", "breaks = [{ start = '14:00', end = '14:30' }]"),
     r"shifts\.shift\.0: a break of shift 'a' \(06:00-14:00\) at 14:00-14:30 is outside the shift: move it inside"),
    (_shift("n", "22:00", "06:00", "breaks = [{ start = '21:00', end = '22:30' }]"),
     r"21:00-22:30 is outside the shift"),
    (_shift("a", "06:00", "14:00", "breaks = [{ start = '09:00', end = '09:30' }, { start = '09:15', end = '09:45' }]"),
     r"two breaks of shift 'a' \(06:00-14:00\) overlap at 09:15"),
    (_shift("a", "06:00", "14:00", "breaks = [{ start = '09:00', end = '09:00' }]"),
     r"break 09:00-09:00 has no length"),
    (_shift("a", "06:00", "14:00", "days = ['monday']"),
     r"shifts\.shift\.0\.days\.0: unknown weekday 'monday': use mon, tue, wed, thu, fri, sat, sun"),
    (_shift("a", "06:00", "14:00", "days = []"), r"shifts\.shift\.0\.days: give at least one weekday"),
    (_shift("a", "6:00", "14:00"), r"shifts\.shift\.0\.start: '6:00' is not a time of day: write HH:MM"),
    (_shift("a", "06:00", "24:00"), r"shifts\.shift\.0\.end: '24:00' is not a time of day"),
    (_shift("a", "06:00:30", "14:00"), r"shifts\.shift\.0\.start: '06:00:30' is not a time of day"),
    ("[shifts]\ntimezone = 'Europe/Berln'",
     r"shifts\.timezone: unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'\? give an IANA name"),
    ("[shifts]\ntimezone = '../../etc/passwd'", r"shifts\.timezone: unknown time zone"),
    ("[shifts]\nshift = []", r"shifts\.shift: give at least one \[\[shifts\.shift\]\]"),
    ("[shifts]\ntimezon = 'UTC'", r"shifts\.timezon: unknown key \(a typo\?\); did you mean 'timezone'\?"),
    ("[[shifts.planned_stop]]\nname = 'm'\nday = 'fry'\nstart = '12:00'\nend = '13:00'",
     r"shifts\.planned_stop\.0\.day: unknown weekday 'fry'"),
    ("[oee]\ntarget = 1.5", r"oee\.target: 1\.5 is not a target: give a fraction above 0 and at most 1"),
    ("[oee]\nquality_target = 0", r"oee\.quality_target: 0 is not a target"),
    ("[oee]\navailability_target = -0.2", r"oee\.availability_target: -0\.2 is not a target"),
    ("[oee]\nperformance_target = nan", r"oee\.performance_target: Input should be a finite number"),
    ("[oee]\nstartup_min = -1", r"oee\.startup_min: Input should be greater than or equal to 0"),
    ("[oee]\nstartup_mins = 3", r"oee\.startup_mins: unknown key \(a typo\?\); did you mean 'startup_min'\?"),
])  # fmt: skip
def test_a_mistake_in_the_calendar_is_named(extra, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(PLANT + "\n" + extra, "plant.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("plant.toml: ")
