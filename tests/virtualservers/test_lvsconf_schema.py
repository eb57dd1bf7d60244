"""The lvs.cf schema: one row per key, read by the parser (ranges, naming the line), the renderer
(order) and the model's effective defaults."""

import dataclasses

import pytest

from virtualservers.lvsconf import model
from virtualservers.lvsconf.model import LvsConfError, LvsConfig, RealServer, VirtualServer
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render
from virtualservers.lvsconf.schema import GLOBAL, KEYS, SECTIONS, SERVER, VIRTUAL, key


def in_server(line: str) -> str:
    return f"virtual a {{\n     server b {{\n         {line}\n     }}\n}}\n"


def in_virtual(line: str) -> str:
    return f"virtual a {{\n     {line}\n}}\n"


def error(text: str) -> LvsConfError:
    with pytest.raises(LvsConfError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (in_server("weight = -5"), 3, "weight -5 is outside 0-65535"),
        (in_server("weight = 99999999999"), 3, "weight 99999999999 is outside 0-65535"),
        (in_server("weight = 65536"), 3, "weight 65536 is outside 0-65535"),
        (in_server("port = 0"), 3, "port 0 is outside 1-65535"),
        (in_server("port = 65536"), 3, "port 65536 is outside 1-65535"),
        (in_virtual("port = 70000"), 2, "port 70000 is outside 1-65535"),
        ("heartbeat_port = 0\n", 1, "heartbeat_port 0 is outside 1-65535"),
        (in_virtual("timeout = -1"), 2, "timeout -1 is outside 0-"),
        (in_virtual("reentry = -1"), 2, "reentry -1 is outside 0-"),
        (in_virtual("persistent = -300"), 2, "persistent -300 is outside 0-"),
        ("keepalive = -2\n", 1, "keepalive -2 is outside 0-"),
        ("tcp_timeout = -1\n", 1, "tcp_timeout -1 is outside 0-"),
        (in_virtual("fwmark = 4294967296"), 2, "fwmark 4294967296 is outside 0-4294967295"),
        (in_virtual("fwmark = -1"), 2, "fwmark -1 is outside"),
        ("syncd_id = 256\n", 1, "syncd_id 256 is outside 0-255"),
        (in_server("weight = " + "9" * 40), 3, "integer out of range"),
        (in_server("address = fe80::1%eth0"), 3, "zone id"),
        (in_virtual("address = fe80::1%eth0 eth0:1"), 2, "zone id"),
        (in_virtual("sorry_server = fe80::1%1"), 2, "zone id"),
        ("serial_no = 1\nprimary = 192.0.2.1\x00\n", 2, "NUL byte"),
    ],
)
def test_a_value_the_kernel_cannot_take_is_refused_naming_the_line(text, line, reason):
    exc = error(text)
    assert exc.line == line and reason in exc.reason, str(exc)


@pytest.mark.parametrize(
    ("text", "line", "attr", "value"),
    [
        (in_virtual("timeout = 0"), 2, "timeout", 0),
        (in_virtual("timeout = 100000"), 2, "timeout", 100000),
        (in_virtual("reentry = 90000"), 2, "reentry", 90000),
        ("keepalive = 0\n", 1, "keepalive", 0),
        ("deadtime = 0\n", 1, "deadtime", 0),
    ],
)
def test_a_value_pulse_runs_but_the_gui_refuses_is_kept_with_a_warning_naming_the_line(
    text, line, attr, value
):
    config, notes = parse(text)
    target = config.virtuals[0] if config.virtuals else config
    assert getattr(target, attr) == value
    assert [n.line for n in notes if attr in n.message] == [line]
    assert "the GUI's form refuses it" in str(notes[0])


def test_the_edges_of_each_range_are_accepted_without_a_warning():
    text = (
        "syncd_id = 255\nheartbeat_port = 65535\n"
        "virtual a {\n     port = 1\n     fwmark = 4294967295\n     timeout = 86400\n"
        "     server b {\n         weight = 65535\n         port = 65535\n     }\n"
        "     server c {\n         weight = 0\n     }\n}\n"
    )
    config, notes = parse(text)
    assert notes == []
    assert [s.weight for s in config.virtuals[0].servers] == [65535, 0]


def test_a_pmask_without_persistence_is_kept_with_a_warning():
    config, notes = parse(in_virtual("pmask = 255.255.255.0"))
    assert config.virtuals[0].pmask == "255.255.255.0"
    assert any("pmask without persistent" in str(n) for n in notes)


def test_each_key_is_in_the_schema_once_and_has_a_dataclass_field():
    targets = {GLOBAL: LvsConfig, VIRTUAL: VirtualServer, SERVER: RealServer}
    for section, keys in SECTIONS.items():
        names = [k.name for k in keys]
        assert len(names) == len(set(names)), section
        declared = {f.name for f in dataclasses.fields(targets[section])}
        for k in keys:
            assert k.attr in declared and (k.second is None or k.second in declared), k
    assert len(KEYS) == sum(len(keys) for keys in SECTIONS.values())


def test_every_dataclass_field_is_a_key_of_the_schema():
    targets = {GLOBAL: LvsConfig, VIRTUAL: VirtualServer, SERVER: RealServer}
    blocks = {"name", "servers", "virtuals", "failovers"}
    for section, target in targets.items():
        attrs = {a for k in SECTIONS[section] for a in (k.attr, k.second) if a}
        # `lines` is where each key was read (errors found after parsing name it), not a key.
        fields = {f.name for f in dataclasses.fields(target) if f.compare} - blocks
        assert fields == attrs, section


def test_the_model_defaults_are_the_schemas():
    assert model.DEFAULT_SCHEDULER == key(VIRTUAL, "scheduler").default == "wlc"
    assert model.DEFAULT_PORT == 80 and model.DEFAULT_NETWORK == "nat"
    assert VirtualServer("a").effective_timeout == key(VIRTUAL, "timeout").default
    assert VirtualServer("a").effective_reentry == key(VIRTUAL, "reentry").default
    assert RealServer("b").effective_weight == key(SERVER, "weight").default


def test_the_renderer_writes_keys_in_the_schemas_order():
    config = LvsConfig(
        serial_no=1,
        primary="192.0.2.1",
        keepalive=6,
        network="direct",
        hard_shutdown=False,
        virtuals=[
            VirtualServer(
                "a", active=True, address="192.0.2.80", device="eth0:1", port=80, timeout=6,
                scheduler="wlc", servers=[RealServer("b", address="192.0.2.81", weight=2)],
            )
        ],
    )  # fmt: skip
    keys = [line.split(" = ")[0].strip() for line in render(config).splitlines() if " = " in line]
    order = {s: [k.name for k in SECTIONS[s]] for s in SECTIONS}
    assert keys[:5] == sorted(keys[:5], key=order[GLOBAL].index)
    assert keys[5:10] == sorted(keys[5:10], key=order[VIRTUAL].index)
    assert keys[10:] == sorted(keys[10:], key=order[SERVER].index)


@pytest.mark.parametrize("value", ['"/bin/x"', "/bin/x", '"/usr/local/bin/up eth0"'])
def test_active_cmd_is_written_back_as_it_was_read(value):
    text = f"serial_no = 1\nactive_cmd = {value}\ninactive_cmd = {value}\n"
    assert render(parse(text)[0]) == text


def test_a_command_with_blanks_from_the_gui_is_quoted_once():
    text = render(LvsConfig(serial_no=1, active_cmd="/usr/local/bin/up eth0"))
    assert 'active_cmd = "/usr/local/bin/up eth0"' in text
    assert render(parse(text)[0]) == text
