"""A common option (--config, --db, -v) works before and after the subcommand, or is refused (issue 12, item 10)."""

from __future__ import annotations

import pytest

from hmi.cli import build_parser, main

COMMANDS = (["collect"], ["history", "tags"], ["alarm", "list"], ["db", "upgrade"], ["user", "list"], ["gui"])


def positions(command: list[str], option: list[str]) -> list[list[str]]:
    """The option before the noun, between noun and verb, and after the verb."""
    places = [option + command, command + option]
    if len(command) == 2:
        places.append(command[:1] + option + command[1:])
    return places


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("option", "dest", "value"),
    [(["--config", "plant.toml"], "config", "plant.toml"), (["--db", "sqlite:///x.db"], "db", "sqlite:///x.db"),
     (["-v"], "verbose", True)],
    ids=["config", "db", "verbose"],
)  # fmt: skip
def test_a_common_option_counts_wherever_it_is_given(command, option, dest, value):
    for argv in positions(command, option):
        assert getattr(build_parser().parse_args(argv), dest) == value, argv


def test_without_the_option_the_default_stays():
    args = build_parser().parse_args(["history", "tags"])
    assert (args.config, args.db, args.verbose) == (None, None, False)


def test_the_last_of_two_wins():
    args = build_parser().parse_args(["--db", "sqlite:///a.db", "history", "tags", "--db", "sqlite:///b.db"])
    assert args.db == "sqlite:///b.db"


def test_config_before_collect_is_the_config_used(tmp_path, capsys):
    """The reported fault: `hmi --config FILE collect` ran the packaged plant."""
    missing = tmp_path / "site.toml"
    assert main(["--config", str(missing), "collect", "--run-for", "0.1"]) == 1
    err = capsys.readouterr().err
    assert err == f"hmi collect: {missing}: no such config file; give an existing file with --config\n"


def test_db_before_the_noun_is_the_database_used(tmp_path, capsys):
    missing = tmp_path / "none" / "h.db"
    assert main(["--db", f"sqlite:///{missing}", "history", "tags"]) != 0
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--offscreen"], ["--run-for", "3"], ["--screenshot", "x.png"], ["--idle-lock", "60"]])
def test_a_window_option_before_a_command_that_opens_no_window_is_refused(option, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*option, "history", "tags"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and option[0] in err and "history tags" in err


@pytest.mark.parametrize("command", [["gui"], ["demo"]])
def test_a_window_option_before_the_window_command_counts(command):
    args = build_parser().parse_args(["--offscreen", "--run-for", "3", *command])
    assert (args.offscreen, args.run_for) == (True, 3.0)
