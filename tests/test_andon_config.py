"""[andon] in the plant config: defaults for the packaged plant, and every mistake named in one line."""

from __future__ import annotations

import pytest

from hmi.config import ConfigError, load_config, parse_config
from hmi.domain.andon import CallState, Loss
from hmi.resources import resource_text

PLANT = resource_text("plant.toml")


def test_the_packaged_plant_runs_with_the_defaults():
    andon = load_config().andon
    assert andon.micro_stop_s == 60
    assert [(t.tier, t.after_s, t.until, t.name) for t in andon.tiers()] == [
        (1, 300.0, CallState.ACKNOWLEDGED, "shift supervisor"), (2, 900.0, CallState.RESOLVED, "production manager")]
    reasons = {r.code: r.loss for r in andon.reason_list()}
    assert reasons["mechanical"] is Loss.BREAKDOWN and reasons["changeover"] is Loss.SETUP
    assert reasons["planned_maintenance"] is Loss.PLANNED


def test_the_contract_example_is_read():
    andon = parse_config(PLANT + """
[andon]
micro_stop_s = 45
[[andon.escalation]]
after_min = 5
until = "acknowledged"
name = "shift supervisor"
notify = ["supervisor@plant.example"]
[andon.reasons]
mechanical = { text = "Mechanical failure", loss = "breakdown" }
""").andon
    assert andon.micro_stop_s == 45 and andon.tiers()[0].notify == ("supervisor@plant.example",)
    assert [r.code for r in andon.reason_list()] == ["mechanical"]


@pytest.mark.parametrize(("extra", "message"), [
    ("[andon]\nmicro_stopp_s = 5", r"andon\.micro_stopp_s: unknown key \(a typo\?\); did you mean 'micro_stop_s'\?"),
    ("[andon]\nmicro_stop_s = -1", r"andon\.micro_stop_s: Input should be greater than or equal to 0"),
    ("[andon]\nmicro_stop_s = nan", r"andon\.micro_stop_s: Input should be a finite number"),
    ("[[andon.escalation]]\nafter_min = 0\nname = 'a'", r"andon\.escalation\.0\.after_min: Input should be greater than 0"),
    ("[[andon.escalation]]\nafter_min = 15\nname = 'a'\n[[andon.escalation]]\nafter_min = 5\nname = 'b'",
     r"tiers must come in increasing time: after_min 5 follows 15"),
    ("[[andon.escalation]]\nafter_min = 5\nname = 'a'\nuntil = 'closed'",
     r"andon\.escalation\.0\.until: Input should be 'acknowledged' or 'resolved'"),
    ("[[andon.escalation]]\nafter_min = 5\nname = 'a'\nnotify = ['boss']", r"'boss' is not an e-mail address"),
    ("[[andon.escalation]]\nafter_min = 5", r"andon\.escalation\.0\.name: required key is missing"),
    ("[andon.reasons]\nMech = { text = 'x', loss = 'breakdown' }", r"reason code 'Mech': use lower-case letters"),
    ("[andon.reasons]\nmech = { text = 'x', loss = 'broken' }",
     r"andon\.reasons\.mech\.loss: Input should be 'breakdown', 'setup' or 'planned'"),
    ("[andon.reasons]\nmech = { txt = 'x', loss = 'setup' }", r"andon\.reasons\.mech\.txt: unknown key .*'text'"),
    ("[andon]\nreasons = {}", r"give at least one reason code"),
])  # fmt: skip
def test_a_mistake_in_andon_is_named(extra, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(PLANT + "\n" + extra, "plant.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("plant.toml: ")
