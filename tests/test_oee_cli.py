"""`hmi oee` as a user runs it: the worked example's shift in each format, plant-wide rows, and refusals in words."""

from __future__ import annotations

import csv
import io
import re
import json

import pytest

from hmi.cli import main
from hmi.config import load_config
from hmi.resources import resource_text
from tests.andon_support import ANDON
from tests.oee_support import store_worked_example

TWINS = [t for t, twin in load_config().twins.items() if "status" in twin.parameters]  # lines too
SHIFT = ("--from", "2026-12-07T06:00Z", "--to", "2026-12-07T14:00Z")


@pytest.fixture
def plant(engine, db_url, tmp_path):
    """The worked example in the database, and a config file with sf1 and sf2."""
    store_worked_example(engine)
    path = tmp_path / "plant.toml"
    path.write_text(resource_text("plant.toml") + ANDON, encoding="utf-8")
    return db_url, str(path)


def hmi(plant, *args: str) -> int:
    db_url, config = plant
    return main(["oee", "--db", db_url, "--config", config, *args])


def test_json_has_the_worked_example(plant, capsys):
    assert hmi(plant, *SHIFT, "--line", "sf1", "--format", "json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["line"], row["label"], row["start"], row["end"]) == (
        "sf1", "2026-12-07 early", "2026-12-07 06:00:00Z", "2026-12-07 14:00:00Z")
    assert (round(row["availability"], 4), round(row["performance"], 4), round(row["quality"], 4),
            round(row["oee"], 4)) == (0.8333, 0.8786, 0.9756, 0.7143)  # fmt: skip
    assert row["losses"]["breakdowns"] == 3000 and row["losses"]["startup_rejects"] == 120


def test_the_table_and_csv_have_a_row_per_line(plant, capsys):
    assert hmi(plant, *SHIFT) == 0
    head, *lines = capsys.readouterr().out.splitlines()
    assert head.split()[:2] == ["period", "line"] and len(lines) == len(TWINS) + 2
    sf1 = next(x for x in lines if " sf1 " in x)
    assert "83.3" in sf1 and "87.9" in sf1 and "97.6" in sf1 and "71.4" in sf1
    twin = next(x for x in lines if " compressor1 " in x)
    assert twin.rstrip().endswith("no data yet")  # no status sample: never observed
    assert hmi(plant, *SHIFT, "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["line"], r["OEE %"]) for r in rows] == [*((t, "-") for t in TWINS), ("sf1", "71.4"), ("sf2", "-")]
    assert rows[0]["planned min"] == "0.0" and rows[-2]["planned min"] == "420.0"


def test_combined_and_by_day(plant, capsys):
    assert hmi(plant, *SHIFT, "--combined", "--format", "json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["line"] == "all" and row["planned_s"] == 25200 and row["produced"] == 6150  # sf1: the observed line
    assert hmi(plant, "--from", "2026-12-07T00:00Z", "--to", "2026-12-08T00:00Z", "--by", "day", "--line", "sf1",
               "--format", "csv") == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["period"], r["produced"]) for r in rows] == [("2026-12-06", "100"), ("2026-12-07", "7158")]


@pytest.mark.parametrize(("args", "message"), [
    (("--line", "sf9", *SHIFT), rf"hmi oee: no line 'sf9'; lines are: {', '.join(TWINS)}, sf1, sf2"),
    (("--from", "2026-12-07T14:00Z", "--to", "2026-12-07T06:00Z"), r"hmi oee: --to \(2026-12-07T06:00Z\) is not after"),
    (("--from", "the dawn of time"), r"hmi oee: --from: cannot read the time 'the dawn of time'"),
])  # fmt: skip
def test_refusals_are_one_line(plant, capsys, args, message):
    assert hmi(plant, *args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.match(message, err), err


def test_a_bad_by_is_refused_by_the_parser(plant, capsys):
    with pytest.raises(SystemExit) as exited:
        hmi(plant, *SHIFT, "--by", "month")
    assert exited.value.code == 2 and "invalid choice: 'month'" in capsys.readouterr().err


def test_a_database_that_is_not_there(tmp_path, capsys):
    assert main(["oee", "--from", "-1d", "--db", f"sqlite:///{tmp_path}/nowhere/x.db"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hmi oee: ")
