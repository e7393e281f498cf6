"""The [mqtt] and [shopfloors] configuration: defaults, the broker's URL, and every mistake named with its key."""

from __future__ import annotations

import re

import pytest

from hmi.config import ConfigError, parse_config
from hmi.resources import resource_text

PLANT = resource_text("plant.toml")


def _parse(extra: str):
    return parse_config(PLANT + "\n" + extra, "plant.toml")


def _refused(extra: str) -> str:
    with pytest.raises(ConfigError) as err:
        _parse(extra)
    message = str(err.value)
    assert message.startswith("plant.toml: ")
    return message


def test_no_mqtt_section_leaves_the_mes_half_off_with_the_shopfloor_defaults():
    config = _parse("")
    assert config.mqtt is None and config.broker is None
    sf = config.shopfloors
    assert (sf.late_after_s, sf.offline_after_s, sf.resend_s, sf.ahead, sf.known) == (5.0, 10.0, 3.0, 2, [])
    assert not [name for name, _, _ in config.required_secrets() if name.startswith("mqtt.")]


def test_a_url_alone_gives_the_defaults_and_the_client_id_of_the_workstation():
    broker = _parse('[mqtt]\nurl = "mqtt://Broker.Plant"\n').broker
    assert broker is not None
    assert (broker.host, broker.port, broker.tls, broker.protocol, broker.keepalive_s) == (
        "broker.plant", 1883, False, "3.1.1", 10)
    assert broker.client_id_for("cr 1/west") == "hmi-cr-1-west"
    assert _parse('[mqtt]\nurl = "mqtts://b:9999"\nclient_id = "planner-2"\n').broker.client_id_for("x") == "planner-2"


def test_mqtts_is_tls_on_8883_and_a_ca_file_turns_tls_on(tmp_path):
    assert (_parse('[mqtt]\nurl = "mqtts://broker.plant"\n').broker.port,
            _parse('[mqtt]\nurl = "mqtts://broker.plant"\n').broker.tls) == (8883, True)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    broker = _parse(f'[mqtt]\nurl = "mqtt://b:8884"\nca_file = "{ca}"\n').broker
    assert (broker.port, broker.tls, broker.ca_file) == (8884, True, str(ca))


def test_mqtt5_takes_a_session_expiry_and_enabled_false_turns_the_broker_off():
    broker = _parse('[mqtt]\nurl = "mqtt://b"\nprotocol = "5"\nsession_expiry_s = 600\n').broker
    assert (broker.protocol, broker.session_expiry_s) == ("5", 600)
    assert _parse('[mqtt]\nurl = "mqtt://b"\nprotocol = "5"\n').broker.session_expiry_s == 3600
    config = _parse('[mqtt]\nurl = "mqtt://b"\nenabled = false\n')
    assert config.mqtt is not None and config.broker is None


def test_a_username_needs_the_secret_of_the_brokers_host():
    config = _parse('[mqtt]\nurl = "mqtts://Broker.Plant:8883"\nusername = "hmi"\n')
    assert ("mqtt.broker.plant", "MQTT broker broker.plant user hmi", True) in config.required_secrets()


def test_known_shopfloors_are_read_in_order():
    config = _parse('[[shopfloors.known]]\nid = "sf-1"\ncapacity = 1200\n[[shopfloors.known]]\nid = "sf_2"\ncapacity = 0.5\n')
    assert [(k.id, k.capacity) for k in config.shopfloors.known] == [("sf-1", 1200.0), ("sf_2", 0.5)]


FORM = "expected mqtt://host:port or mqtts://host:port"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[mqtt]\nurll = "mqtt://b"\n', "mqtt.urll: unknown key (a typo?); did you mean 'url'?"),
        ('[mqtt]\nurl = "mqtt://b"\nkeepalive = 5\n', "mqtt.keepalive: unknown key (a typo?); did you mean 'keepalive_s'?"),
        ("[mqtt]\nprotocol = \"5\"\n", "mqtt.url: required key is missing"),
        ('[mqtt]\nurl = "tcp://b:1883"\n', f"mqtt.url: {FORM}"),
        ('[mqtt]\nurl = "b:1883"\n', f"mqtt.url: {FORM}"),
        ('[mqtt]\nurl = "mqtt://:1883"\n', f"mqtt.url: {FORM}"),
        ('[mqtt]\nurl = "mqtt://b:99999"\n', f"mqtt.url: {FORM}"),
        ('[mqtt]\nurl = "mqtt://b:1883/plant"\n', f"mqtt.url: {FORM}"),
        ('[mqtt]\nurl = "mqtt://hmi:s3cret@b:1883"\n', "mqtt.url: carries a user name or password"),
        ('[mqtt]\nurl = "mqtt://b"\nprotocol = "3"\n', "mqtt.protocol: Input should be '3.1.1' or '5'"),
        ('[mqtt]\nurl = "mqtt://b"\nsession_expiry_s = 60\n', 'mqtt: session_expiry_s is for MQTT 5 only: set protocol = "5"'),
        ('[mqtt]\nurl = "mqtt://b"\nprotocol = "5"\nsession_expiry_s = -1\n', "mqtt.session_expiry_s: Input should be greater than or equal to 0"),
        ('[mqtt]\nurl = "mqtt://b"\nkeepalive_s = 0\n', "mqtt.keepalive_s: Input should be greater than or equal to 1"),
        ('[mqtt]\nurl = "mqtts://b"\nca_file = "/no/such/ca.pem"\n', "mqtt.ca_file: no such file /no/such/ca.pem: give the CA certificate"),
        ('[mqtt]\nurl = "mqtt://b"\nclient_id = "hmi 1"\n', "mqtt.client_id: String should match pattern"),
        ('[mqtt]\nurl = "mqtt://[::1]:1883"\nusername = "hmi"\n', "cannot name the password's secret mqtt.<host>"),
        ("[shopfloors]\nlate_after = 5\n", "shopfloors.late_after: unknown key (a typo?); did you mean 'late_after_s'?"),
        ("[shopfloors]\nlate_after_s = 10\n", "shopfloors: offline_after_s (10) must be greater than late_after_s (10)"),
        ("[shopfloors]\nresend_s = 0\n", "shopfloors.resend_s: Input should be greater than 0"),
        ("[shopfloors]\nahead = 0\n", "shopfloors.ahead: Input should be greater than or equal to 1"),
        ('[[shopfloors.known]]\nid = "sf 1"\ncapacity = 10\n', "shopfloors.known.0.id: expected a shopfloor id"),
        ('[[shopfloors.known]]\nid = "sf-1"\ncapacity = 0\n', "shopfloors.known.0.capacity: Input should be greater than 0"),
        ('[[shopfloors.known]]\nid = "sf-1"\ncapacity = nan\n', "shopfloors.known.0.capacity: Input should be a finite number"),
        ('[[shopfloors.known]]\nid = "sf-1"\ncapacity = inf\n', "shopfloors.known.0.capacity: Input should be a finite number"),
        ('[[shopfloors.known]]\nid = "sf-1"\ncapacityy = 10\n', "shopfloors.known.0.capacityy: unknown key (a typo?); did you mean 'capacity'?"),
        ('[[shopfloors.known]]\nid = "sf-1"\ncapacity = 1\n[[shopfloors.known]]\nid = "sf-1"\ncapacity = 2\n',
         "shopfloors: [[shopfloors.known]] gives sf-1 more than once"),
    ],
)
def test_a_mistake_names_the_key_and_what_to_write(extra, message):
    assert message in _refused(extra)


def test_a_password_in_the_url_is_not_repeated_in_the_message():
    assert "s3cret" not in _refused('[mqtt]\nurl = "mqtt://hmi:s3cret@b:1883"\n')


def test_the_commented_examples_in_the_packaged_plant_parse_when_uncommented():
    lines, inside = [], False
    for line in PLANT.splitlines():
        if line.startswith("# [mqtt]"):
            inside = True
        elif line.startswith("[[endpoints]]"):
            inside = False
        if inside and re.match(r"^# (\[|[a-z_]+ = )", line):
            line = line[2:]
        lines.append(line)
    text = "\n".join(lines)
    assert re.search(r"^\[mqtt\]$", text, re.M) and re.search(r"^\[\[shopfloors.known\]\]", text, re.M)
    text = text.replace('ca_file = "/etc/hmi/broker-ca.pem"', "").replace("session_expiry_s = 3600", "")
    config = parse_config(text, "plant.toml")
    assert config.broker is not None and config.broker.client_id == "hmi-control-room"
    assert [(k.id, k.capacity) for k in config.shopfloors.known] == [("sf-1", 1200.0)]
