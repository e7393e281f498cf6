"""The OEE computation and the shift calendar as plain Python: worked example, clipping, DST, no planned time,
no production, grouping and the plant-wide row."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hmi.domain.andon import Loss
from hmi.domain.oee import (
    ALL_LINES, NO_PLANNED_TIME, NO_PRODUCTION, NOT_OBSERVED, BigLoss, LineInput, OeeStop, Output, Period, compute,
)  # fmt: skip
from hmi.domain.shifts import DEFAULT_CALENDAR, PlannedStopDef, ShiftCalendar, ShiftDef, zone

UTC = zone("UTC")


def us(text: str) -> int:
    """UTC microseconds of an ISO time (UTC unless it says otherwise)."""
    moment = datetime.fromisoformat(text)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()) * 1_000_000


EARLY = (us("2026-12-07T06:00"), us("2026-12-07T14:00"))


def early_shift() -> list:
    return [w for w in DEFAULT_CALENDAR.windows(*EARLY) if w.name == "early"]


def worked_example_line() -> LineInput:
    """sf1 in the early shift of 2026-12-07 (see test_the_worked_example)."""
    stops = (
        OeeStop(us("2026-12-07T07:00"), us("2026-12-07T07:40"), Loss.BREAKDOWN),
        OeeStop(us("2026-12-07T09:50"), us("2026-12-07T10:10"), Loss.BREAKDOWN),  # half of it in the break
        OeeStop(us("2026-12-07T11:00"), us("2026-12-07T11:20"), Loss.SETUP),
        OeeStop(us("2026-12-07T12:00:00"), us("2026-12-07T12:00:20"), Loss.BREAKDOWN, micro=True),
        OeeStop(us("2026-12-07T13:00"), us("2026-12-07T13:30"), Loss.PLANNED),
    )
    outputs = (Output(us("2026-12-07T06:05"), 300, 40), Output(us("2026-12-07T09:00"), 2700, 60),
               Output(us("2026-12-07T13:59"), 3000, 50), Output(us("2026-12-07T14:00"), 999, 9))  # the last: late shift
    return LineInput("sf1", 3.0, stops, outputs)


def test_the_worked_example():
    """The early shift 06:00-14:00 (UTC) with its break 10:00-10:30, on sf1 (1200 units/h: ideal cycle 3 s).

    Stops: breakdown 07:00-07:40 (40 min); breakdown 09:50-10:10, of which 10 min lie before the break (the
    break's 10 min cost nothing); changeover (setup) 11:00-11:20 (20 min); a 20 s micro-stop at 12:00
    (a performance loss, not downtime); planned maintenance 13:00-13:30 (out of planned time).
    Reports: 6000 good and 150 defective in the shift, 40 of the defective in the first 10 minutes.

    planned time   = 480 - 30 (break) - 30 (planned maintenance)  = 420 min = 25200 s
    run time       = 25200 - (40 + 10 + 20) min = 25200 - 4200    = 21000 s
    availability   = 21000 / 25200                                  = 0.8333
    performance    = 3 s x 6150 / 21000 s = 18450 / 21000           = 0.8786
    quality        = 6000 / 6150                                    = 0.9756
    OEE            = 0.8333 x 0.8786 x 0.9756 (= 3 x 6000 / 25200)  = 0.7143
    six big losses: breakdowns 3000 s, setup 1200 s, minor stops 20 s, reduced speed 21000 - 18450 - 20 = 2530 s,
    start-up rejects 3 x 40 = 120 s, production rejects 3 x 110 = 330 s; 25200 - 7200 = 18000 s = 3 x 6000.
    """
    [row] = compute(early_shift(), [worked_example_line()], *EARLY, tz=UTC, startup_s=600)
    assert (row.line, row.label, row.start_us, row.end_us) == ("sf1", "2026-12-07 early", *EARLY)
    assert (row.planned_s, row.run_s, row.unplanned_down_s) == (25200, 21000, 4200)
    assert (row.micro_stops, row.micro_stop_s, row.produced, row.good) == (1, 20, 6150, 6000)
    assert (round(row.availability, 4), round(row.performance, 4), round(row.quality, 4), round(row.oee, 4)) == (
        0.8333, 0.8786, 0.9756, 0.7143)
    assert row.missing == ""
    assert row.losses == pytest.approx({
        BigLoss.BREAKDOWNS: 3000, BigLoss.SETUP: 1200, BigLoss.MINOR_STOPS: 20, BigLoss.REDUCED_SPEED: 2530,
        BigLoss.STARTUP_REJECTS: 120, BigLoss.PRODUCTION_REJECTS: 330})
    assert row.planned_s - sum(row.losses.values()) == pytest.approx(3.0 * row.good)


def test_a_range_cuts_the_shift():
    """The first two hours only: planned 7200 s, the 07:00-07:40 breakdown, the 06:05 report."""
    start, end = EARLY[0], us("2026-12-07T08:00")
    [row] = compute(DEFAULT_CALENDAR.windows(start, end), [worked_example_line()], start, end, tz=UTC, startup_s=600)
    assert (row.planned_s, row.run_s, row.produced, row.end_us) == (7200, 4800, 340, end)
    assert row.losses[BigLoss.STARTUP_REJECTS] == 120


def test_overlapping_stops_count_once():
    a = OeeStop(us("2026-12-07T07:00"), us("2026-12-07T08:00"), Loss.BREAKDOWN)
    b = OeeStop(us("2026-12-07T07:30"), us("2026-12-07T08:30"), Loss.SETUP)
    [row] = compute(early_shift(), [LineInput("sf1", 3.0, (a, b), (Output(EARLY[0], 10, 0),))], *EARLY, tz=UTC)
    assert row.unplanned_down_s == 90 * 60
    assert (row.losses[BigLoss.BREAKDOWNS], row.losses[BigLoss.SETUP]) == (3600, 1800)


def test_no_planned_time():
    """A stop and a report inside the break: no planned time, no factor, never 100 % or a division error."""
    start, end = us("2026-12-07T10:00"), us("2026-12-07T10:30")
    stop = OeeStop(start, end, Loss.BREAKDOWN)
    [row] = compute(DEFAULT_CALENDAR.windows(start, end), [LineInput("sf1", 3.0, (stop,), (Output(start, 5, 0),))],
                    start, end, tz=UTC)  # fmt: skip
    assert (row.planned_s, row.unplanned_down_s) == (0, 0)
    assert (row.availability, row.performance, row.oee, row.missing) == (None, None, None, NO_PLANNED_TIME)
    assert row.quality == 1.0  # 5 good of 5: that much can be said


def test_a_range_between_shifts_has_no_rows():
    calendar = ShiftCalendar("UTC", (ShiftDef("day", 8 * 60, 16 * 60),))
    start, end = us("2026-12-07T17:00"), us("2026-12-07T20:00")
    assert calendar.windows(start, end) == []
    assert compute([], [LineInput("sf1", 3.0)], start, end, tz=UTC) == []


def test_no_production():
    """A shift without reports: availability from the stops, no performance, quality or OEE."""
    stop = OeeStop(us("2026-12-07T07:00"), us("2026-12-07T07:45"), Loss.BREAKDOWN)
    [row] = compute(early_shift(), [LineInput("sf1", 3.0, (stop,))], *EARLY, tz=UTC)
    assert row.availability == pytest.approx(405 / 450)
    assert (row.performance, row.quality, row.oee, row.missing) == (None, None, None, NO_PRODUCTION)


def test_a_twin_has_availability_only():
    stop = OeeStop(us("2026-12-07T06:00"), us("2026-12-07T06:45"), Loss.BREAKDOWN)
    [row] = compute(early_shift(), [LineInput("compressor1", None, (stop,))], *EARLY, tz=UTC)
    assert row.availability == pytest.approx(405 / 450) and row.missing == NO_PRODUCTION
    assert row.ideal_cycle_s is None and BigLoss.REDUCED_SPEED not in row.losses


def test_the_combined_row_sums_times_and_counts():
    """Not the mean of the lines' ratios: sf1 (worked example) and sf2 (ideal 4 s, 450 min run, 5000 of 5000)."""
    sf2 = LineInput("sf2", 4.0, (), (Output(us("2026-12-07T08:00"), 5000, 0),))
    twin = LineInput("compressor1", None, (OeeStop(us("2026-12-07T06:00"), us("2026-12-07T06:30"), Loss.BREAKDOWN),))
    lines = [worked_example_line(), sf2, twin]
    sf1, two, comp = compute(early_shift(), lines, *EARLY, tz=UTC, startup_s=600)
    assert [r.line for r in (sf1, two, comp)] == ["sf1", "sf2", "compressor1"]
    [all_] = compute(early_shift(), lines, *EARLY, tz=UTC, startup_s=600, combined=True)
    assert all_.line == ALL_LINES and all_.label == "2026-12-07 early"
    assert all_.planned_s == 25200 + 27000 + 27000 and all_.run_s == 21000 + 27000 + 25200
    assert (all_.produced, all_.good) == (11150, 11000)
    assert all_.availability == pytest.approx(73200 / 79200)
    assert all_.performance == pytest.approx((3 * 6150 + 4 * 5000) / (21000 + 27000))  # the rated lines' run time
    assert all_.quality == pytest.approx(11000 / 11150)
    assert all_.oee == pytest.approx(all_.availability * all_.performance * all_.quality)
    assert all_.ideal_cycle_s == pytest.approx((3 * 6150 + 4 * 5000) / 11150)
    assert all_.losses[BigLoss.BREAKDOWNS] == 3000 + 1800


def test_by_day_and_week():
    """A day is the shifts that start on it (the night shift belongs to the day it starts); a week is ISO's."""
    start, end = us("2026-12-06T00:00"), us("2026-12-08T00:00")  # Sunday and Monday
    windows = DEFAULT_CALENDAR.windows(start, end)
    assert [w.name for w in windows] == ["night", "early", "late", "night", "early", "late", "night"]
    line = [LineInput("sf1", 3.0)]
    shifts = compute(windows, line, start, end, tz=UTC)
    assert [r.label for r in shifts] == ["2026-12-05 night", "2026-12-06 early", "2026-12-06 late", "2026-12-06 night",
                                         "2026-12-07 early", "2026-12-07 late", "2026-12-07 night"]
    assert shifts[0].planned_s == 6 * 3600 - 1800  # the part of Saturday's night shift inside the range
    days = compute(windows, line, start, end, tz=UTC, by=Period.DAY)
    assert [(r.label, r.planned_s) for r in days] == [
        ("2026-12-05", 19800), ("2026-12-06", 3 * 27000), ("2026-12-07", 2 * 27000 + 7200)]
    weeks = compute(windows, line, start, end, tz=UTC, by=Period.WEEK)
    assert [r.label for r in weeks] == ["2026-W49", "2026-W50"]
    assert sum(r.planned_s for r in weeks) == sum(r.planned_s for r in shifts)


def test_a_planned_stop_of_the_calendar_is_not_planned_time():
    calendar = ShiftCalendar("UTC", DEFAULT_CALENDAR.shifts, (PlannedStopDef("maintenance", 0, 12 * 60, 13 * 60),))
    [w] = [w for w in calendar.windows(*EARLY) if w.name == "early"]
    assert w.planned_stops == ((us("2026-12-07T12:00"), us("2026-12-07T13:00")),)
    stop = OeeStop(us("2026-12-07T12:30"), us("2026-12-07T13:30"), Loss.BREAKDOWN)  # half in the planned stop
    [row] = compute([w], [LineInput("sf1", 3.0, (stop,), (Output(EARLY[0], 1, 0),))], *EARLY, tz=UTC)
    assert (row.planned_s, row.unplanned_down_s) == (450 * 60 - 3600, 1800)


@pytest.mark.parametrize(("night", "hours"), [("2026-03-28", 7), ("2026-10-24", 9), ("2026-12-05", 8)])
def test_a_shift_across_a_change_of_daylight_saving_time_is_as_long_as_the_clocks_say(night, hours):
    berlin = ShiftCalendar("Europe/Berlin", DEFAULT_CALENDAR.shifts)
    start = int(datetime.fromisoformat(f"{night}T22:00").replace(tzinfo=zone("Europe/Berlin")).timestamp()) * 10**6
    windows = [w for w in berlin.windows(start, start + 3600_000_000) if w.name == "night"]
    assert len(windows) == 1 and windows[0].start_us == start
    assert windows[0].end_us - windows[0].start_us == hours * 3600_000_000
    b0, b1 = windows[0].breaks[0]
    assert b1 - b0 == 1800_000_000
    [row] = compute(windows, [LineInput("sf1", 3.0)], start, windows[0].end_us, tz=zone("Europe/Berlin"))
    assert row.label == f"{night} night" and row.planned_s == hours * 3600 - 1800


def test_local_times_in_berlin_are_utc_one_hour_earlier_in_winter():
    berlin = ShiftCalendar("Europe/Berlin", DEFAULT_CALENDAR.shifts)
    starts = [w.start_us for w in berlin.windows(*EARLY) if w.name == "early"]
    assert starts == [us("2026-12-07T05:00")]


def test_a_lasting_downtime_stops_at_the_end_of_the_range():
    stop = OeeStop(us("2026-12-07T13:00"), us("2026-12-07T20:00"), Loss.BREAKDOWN)
    [row] = compute(early_shift(), [LineInput("sf1", 3.0, (stop,))], *EARLY, tz=UTC)
    assert row.unplanned_down_s == 3600


def test_a_line_without_stops_or_reports_comes_out_as_the_full_computation_has_it():
    """The shortcut for a line that neither stopped nor reported gives what shift_tally gives."""
    from hmi.domain.oee import shift_tally

    [w] = early_shift()
    for ideal in (3.0, None):
        [row] = compute([w], [LineInput("x", ideal)], *EARLY, tz=UTC)
        full = shift_tally(*EARLY, list(w.breaks), [], [], ideal, None).figures("x", *EARLY, row.label, ideal)
        assert row == full


def test_planned_time_starts_when_the_line_was_first_observed():
    """sf1 first seen at 08:00 in the early shift (break 10:00-10:30): planned 6 h - 30 min from then; the night
    shift before has no data (never 100 %), and neither has the combined row of a period no line was seen in."""
    start, end = us("2026-12-06T22:00"), us("2026-12-07T14:00")
    windows = DEFAULT_CALENDAR.windows(start, end)
    assert [w.name for w in windows] == ["night", "early"]
    seen = us("2026-12-07T08:00")
    line = LineInput("sf1", 3.0, (OeeStop(seen, us("2026-12-07T08:30"), Loss.BREAKDOWN),),
                     (Output(us("2026-12-07T06:00"), 2000, 0),), observed_from_us=seen)  # counted from the shift
    night, early = compute(windows, [line], start, end, tz=UTC)
    assert night.missing == NOT_OBSERVED and night.planned_s == 0
    assert (night.availability, night.performance, night.quality, night.oee) == (None, None, None, None)
    assert early.planned_s == 6 * 3600 - 1800 and early.run_s == early.planned_s - 1800 and not early.missing
    assert early.performance == pytest.approx(3 * 2000 / early.run_s)
    never = LineInput("sf2", 4.0, observed_from_us=None)
    assert [r.missing for r in compute(windows, [never], start, end, tz=UTC)] == [NOT_OBSERVED, NOT_OBSERVED]
    night_all, early_all = compute(windows, [line, never], start, end, tz=UTC, combined=True)
    assert night_all.missing == NOT_OBSERVED and night_all.availability is None
    assert early_all.planned_s == early.planned_s and early_all.oee == pytest.approx(early.oee)  # sf2 not counted
