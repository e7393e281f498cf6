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


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://hmi:Hunter-2-xyz@db.example/plant",
        "postgresql://hmi:Hunter-2-xyz@db.example:5432/plant",
        "postgresql+psycopg://db.example/plant?user=hmi&password=Hunter-2-xyz",
    ],
)
def test_a_database_password_in_the_config_is_refused_without_repeating_it(url):
    with pytest.raises(ConfigError) as err:
        parse_config(PLANT.replace("[database]", f'[database]\nurl = "{url}"', 1), "plant.toml")
    message = str(err.value)
    assert message.startswith("plant.toml: database.url: carries a password: remove it")
    assert "hmi secret set database" in message and "HMI_SECRET_DATABASE" in message
    assert "Hunter-2-xyz" not in message


def test_a_password_in_any_rejected_url_is_masked():
    with pytest.raises(ConfigError) as err:
        parse_config(PLANT.replace("[database]", '[database]\nurl = "mysql://hmi:Hunter-2-xyz@db/plant"', 1))
    assert "expected an sqlite" in str(err.value) and "Hunter-2-xyz" not in str(err.value)
    assert "mysql://hmi:***@db/plant" in str(err.value)


def test_the_secrets_a_config_needs():
    assert load_config().required_secrets() == []
    text = PLANT.replace("[database]", '[database]\nurl = "postgresql+psycopg://hmi@db.example/plant"', 1)
    text = text.replace('url = "opc.tcp://127.0.0.1:4840/hmi/plc"',
                        'url = "opc.tcp://127.0.0.1:4840/hmi/plc"\nusername = "operator"', 1)
    config = parse_config(text)
    assert [(name, required) for name, _, required in config.required_secrets()] == [
        ("database", False), ("opcua.plc1", True)]
    assert [n for n, _, _ in config.required_secrets("sqlite:///x.sqlite")] == ["opcua.plc1"]
    assert [n for n, _, _ in config.required_secrets("postgresql+psycopg://hmi:given@db/plant")] == ["opcua.plc1"]


def test_session_idle_lock_is_configured_and_checked():
    assert load_config().session.idle_lock_s == 900
    text = resource_text("plant.toml").replace("idle_lock_s = 900", "idle_lock_s = 5", 1)
    with pytest.raises(ConfigError, match=r"session\.idle_lock_s: .*greater than or equal to 10"):
        parse_config(text, "x.toml")


# --- hostile numbers (issue 12, item 6) and bytes (item 7) ---------------------------------------

TORQUE = "twins.drillrig1.parameters.torque"


def test_a_band_outside_the_range_names_the_file_the_key_and_both_intervals():
    text = PLANT.replace("range = [0.0, 200.0]\nband = [50.0, 150.0]", "range = [-1000.0, 1000.0]\nband = [-900.0, 5000.0]", 1)
    assert text != PLANT
    with pytest.raises(ConfigError) as err:
        parse_config(text, "plant.toml")
    message = str(err.value)
    assert message.startswith(f"plant.toml: {TORQUE}: band")
    assert "[-900, 5000]" in message and "[-1000, 1000]" in message


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("range = [0.0, 200.0]", "range = [nan, 200.0]"), f"{TORQUE}.range"),
        (("range = [0.0, 200.0]", "range = [-inf, inf]"), f"{TORQUE}.range"),
        (("range = [0.0, 200.0]", "range = [-1e300, 1e300]"), f"{TORQUE}.range"),
        (("band = [50.0, 150.0]", "band = [50.0, nan]"), f"{TORQUE}.band"),
        (("band = [50.0, 150.0]", "band = [-inf, 150.0]"), f"{TORQUE}.band"),
        (("deadband = 0.0", "deadband = nan"), f"{TORQUE}.deadband"),
        (("deadband = 0.0", "deadband = inf"), f"{TORQUE}.deadband"),
        (("deadband = 0.0", "deadband = 1e300"), f"{TORQUE}.deadband"),
        (("sampling_ms = 1000", "sampling_ms = 1e300"), f"{TORQUE}.sampling_ms"),
        (("sampling_ms = 1000", "sampling_ms = nan"), f"{TORQUE}.sampling_ms"),
        (("flush_interval_s = 1.0", "flush_interval_s = nan"), "historian.flush_interval_s"),
        (("idle_lock_s = 900", "idle_lock_s = inf"), "session.idle_lock_s"),
        (("max_shelve_s = 28800", "max_shelve_s = nan"), "alarms.max_shelve_s"),
    ],
)
def test_non_finite_or_absurd_numbers_are_refused(edit, key):
    text = PLANT.replace(edit[0], edit[1], 1)
    assert text != PLANT
    with pytest.raises(ConfigError) as err:
        parse_config(text, "plant.toml")
    assert str(err.value).startswith(f"plant.toml: {key}"), str(err.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300"])
def test_non_finite_alarm_settings_are_refused(value):
    text = PLANT + f'\n[alarms.tags."drillrig1.torque"]\ndeadband = {value}\n'
    with pytest.raises(ConfigError, match=r"alarms\.tags\.drillrig1\.torque\.deadband"):
        parse_config(text, "plant.toml")
    text = PLANT + f'\n[alarms.tags."drillrig1.torque"]\nhihi = {value}\n'
    with pytest.raises(ConfigError, match=r"alarms\.tags\.drillrig1\.torque"):
        parse_config(text, "plant.toml")


def test_a_file_that_is_not_utf8_text_is_one_line_naming_it(tmp_path):
    path = tmp_path / "random.toml"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "UTF-8" in message and "\n" not in message


def test_a_folder_for_a_config_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder, not a config file; give the TOML file with --config"
