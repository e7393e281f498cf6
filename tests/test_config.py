"""The plant configuration: the packaged plant loads, and every mistake is named with file and key."""

import pytest

from hmi.config import ConfigError, load_config, parse_config
from hmi.domain.plant import Stream, TagKind
from hmi.resources import resource_text

PLANT = resource_text("plant.toml")


def test_the_packaged_plant_has_the_eight_twins_grouped_by_stream():
    plant = load_config().plant()
    groups = plant.by_stream()
    assert [t.twin_id for t in groups[Stream.UPSTREAM]] == ["drillrig1", "wellhead1"]
    assert [t.twin_id for t in groups[Stream.MIDSTREAM]] == ["pipeline1", "compressor1"]
    assert [t.twin_id for t in groups[Stream.DOWNSTREAM]] == ["refinery1", "retail1"]
    assert [t.twin_id for t in groups[Stream.POWER]] == ["turbine1", "transformer1"]
    torque = plant.tag("drillrig1.torque")
    assert (torque.unit, torque.band_low, torque.band_high, torque.node_id) == (
        "Nm",
        50.0,
        150.0,
        "ns=2;s=drillrig1.torque",
    )
    assert plant.tag("compressor1.status").kind is TagKind.DISCRETE
    assert plant.tag("transformer1.voltage").node_id == "ns=3;i=1001"
    assert all(any(t.kind is TagKind.SETPOINT for t in twin.tags) for twin in plant.twins)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("sampling_ms = 1000", "sampling_msx = 1000"), "twins.drillrig1.parameters.torque.sampling_msx: unknown key"),
        (("band = [50.0, 150.0]", "band = [150.0, 50.0]"), "band must be [low, high] with low <= high"),
        (('node_id = "ns=2;s=drillrig1.torque"', 'node_id = "drillrig1.torque"'), "expected an OPC UA NodeId"),
        (('stream = "upstream"', 'stream = "upstreem"'), "twins.drillrig1.stream"),
        (('endpoint = "plc1"', 'endpoint = "plc9"'), "no endpoint named 'plc9'"),
        (("range = [0.0, 200.0]", 'range = "wide"'), "twins.drillrig1.parameters.torque.range"),
        (('url = "opc.tcp://127.0.0.1:4840/hmi/plc"', 'url = "http://plc"'), "endpoints.0.url"),
        (("[database]", '[database]\nurl = "mysql://x"'), "database.url: expected an sqlite"),
        (("[twins.drillrig1.parameters.torque]", "[twins.DrillRig.parameters.torque]"), "twins.DrillRig"),
    ],
)
def test_a_mistake_names_the_file_the_key_and_what_was_expected(edit, message):
    text = PLANT.replace(edit[0], edit[1], 1)
    assert text != PLANT
    with pytest.raises(ConfigError) as err:
        parse_config(text, "plant.toml")
    assert str(err.value).startswith("plant.toml: ")
    assert message in str(err.value)


def test_broken_toml_names_the_line():
    with pytest.raises(ConfigError, match=r"plant.toml: not valid TOML: .*line 2"):
        parse_config("[database]\nurl = \n[historian]\n", "plant.toml")


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_security_needs_certificates_and_a_trust_list():
    text = PLANT.replace('publishing_interval_ms = 100', 'publishing_interval_ms = 250\nsecurity_policy = "Basic256Sha256"\nsecurity_mode = "SignAndEncrypt"')
    with pytest.raises(ConfigError, match="also needs certificate, private_key, trust_dir"):
        parse_config(text, "plant.toml")
