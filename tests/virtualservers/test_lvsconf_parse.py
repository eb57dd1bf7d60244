"""The lvs.cf parser: what piranha 0.8.6's parser accepts, refuses (with the line) and warns about."""

import pytest

from tests.virtualservers.samples import INVALID_SAMPLES, VALID_SAMPLES, sample_path
from virtualservers.lvsconf.model import LvsConfError, RealServer, VirtualServer
from virtualservers.lvsconf.parse import parse


def parsed(text: str):
    return parse(text)[0]


def warnings(text: str) -> list[str]:
    return [str(w) for w in parse(text)[1]]


def error(text: str) -> LvsConfError:
    with pytest.raises(LvsConfError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_it_reads_every_sample_the_stock_parser_accepts(name):
    config = parsed(sample_path(name).read_bytes().decode())
    assert config.virtuals or config.failovers


@pytest.mark.parametrize("name", sorted(INVALID_SAMPLES))
def test_it_refuses_the_invalid_samples_with_line_and_reason(name):
    line, reason = INVALID_SAMPLES[name]
    exc = error(sample_path(name).read_bytes().decode())
    assert exc.line == line
    assert reason in exc.reason


def test_it_reads_the_upstream_sample_faithfully():
    config = parsed(sample_path("01-piranha-upstream-sample.cf").read_text())
    assert (config.nat_router_ip, config.nat_router_device) == ("192.168.10.100", "eth1:1")
    assert [f.name for f in config.failovers] == ["web1", "ftp"]
    web = config.virtuals[0]
    assert web.port == 80  # `port = http`
    assert web.load_monitor == "uptime"
    assert web.send == "GET / HTTP/1.0\\r\\n\\r\\n"  # escapes stay literal: nanny interprets them
    assert config.virtuals[1].send == "\\n"


def test_it_reads_an_indented_file_with_duplicate_keys():
    config = parsed(sample_path("14-rdo-openstack-mysql-dr-indented.cf").read_text())
    assert config.service == "lvs" and config.hard_shutdown is False
    virtual = config.virtuals[0]
    assert virtual.send_program == "/usr/local/bin/check_tcp_port.sh %h 3306"
    assert [s.name for s in virtual.servers] == ["sql1.example.com", "sql2.example.com"]
    assert virtual.quiesce_server is True


def test_it_keeps_absent_keys_absent():
    config = parsed(sample_path("02-ssocopsacc-piranha-lvs.cf").read_text())
    virtual = config.virtuals[0]
    assert virtual.address is None and virtual.active is None
    assert virtual.effective_active is False and virtual.effective_address == "0.0.0.0"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("serial_no = 1\nkeepalive = 6  # seconds\n", 2, "inline comments are not allowed"),
        ("keepalive=6\n", 1, "unknown command"),
        ("network = direct\nvirtual a{\n}\n", 2, "missing arguments"),
        ("virtual a {\n     address = 192.0.2.9\n}\n", 2, "missing arguments"),
        ("virtual a {\n     nmask = 255.255.255.0\n}\n", 2, "unknown command"),
        ("virtual a {\n     scheduler = fancy\n}\n", 2, "invalid argument"),
        ("virtual a {\n     protocol = TCP\n}\n", 2, "invalid argument"),
        ("virtual a {\n     active = 2\n}\n", 2, "boolean expected"),
        ("virtual a {\n  server b {\n     port = http\n  }\n}\n", 3, "integer expected"),
        ("virtual a {\n     send = GET / HTTP/1.0\n}\n", 2, "unexpected arguments"),
        ('virtual a {\n     send = "GET / \n}\n', 2, "quotation mismatch"),
        ("nat_router = 192.0.2.254\n", 1, "missing arguments"),
        ("nat_nmask = 255.0.255.0\n", 1, "Bad subnet mask"),
        ("primary = 999.1.1.1\n", 1, "invalid host name or ip address"),
        ("keepalive = six\n", 1, "integer expected"),
        ("keepalive 6\n", 1, "equal (=) expected"),
        ("# only a comment\n\n", 2, "Empty configuration"),
        ("", 1, "Empty configuration"),
        ("}\n", 1, "no block is open"),
        ("server a {\n}\n", 1, "inside a virtual"),
    ],
)
def test_it_refuses_what_the_stock_parser_refuses_naming_the_line(text, line, reason):
    exc = error(text)
    assert (exc.line, reason in exc.reason) == (line, True), str(exc)
    assert str(exc).startswith(f"line {line}: ")


def test_it_accepts_what_the_stock_parser_accepts():
    text = (
        "serial_no = 0x10\n"
        "virtual a {\n"
        "\tport\t=\thttps\n"
        '     send = ""\n'
        '     expect = ""\n'
        "     timeout = 010\n"
        "     server b {\n"
        "         weight = 0\n"
        "     }\n"
        "} # end\n"
    )
    config = parsed(text)
    virtual = config.virtuals[0]
    assert config.serial_no == 16
    assert virtual.port == 443
    assert (virtual.send, virtual.expect) == ("", "")
    assert virtual.timeout == 8  # octal, as strtol reads it
    assert virtual.servers[0].weight == 0 and virtual.servers[0].effective_active is False


def test_it_accepts_an_unclosed_block_at_the_end_of_the_file():
    config = parsed("virtual a {\n     active = 1\n     server b {\n         active = 1\n")
    assert config.virtuals[0].servers[0].active is True


def test_it_keeps_the_port_a_server_had_when_port_comes_after_it():
    text = (
        "virtual a {\n     server b {\n         address = 192.0.2.1\n     }\n     port = 3306\n}\n"
    )
    config, notes = parse(text)
    assert config.virtuals[0].servers[0].port == 80
    assert any("keeps port 80" in str(n) for n in notes)


def test_it_warns_about_crlf_single_quotes_octal_and_non_piranha_schedulers():
    notes = warnings(
        "serial_no = 1\r\nvirtual a {\r\n     expect = 'OK'\r\n     timeout = 010\r\n     scheduler = mh\r\n}\r\n"
    )
    text = "\n".join(notes)
    assert "line 1: CRLF" in text
    assert "line 3: single quotes" in text
    assert "line 4: 010 has a leading zero" in text
    assert "line 5: scheduler mh" in text


def test_it_keeps_single_quotes_as_nanny_would_see_them():
    assert parsed("virtual a {\n     expect = 'OK'\n}\n").virtuals[0].expect == "'OK'"


def test_it_reads_ipv6_addresses():
    config = parsed(
        "virtual v6 {\n     address = 2001:db8::10 eth0\n     server a {\n         address = 2001:db8::11\n     }\n}\n"
    )
    assert config.virtuals[0].address == "2001:db8::10"
    assert config.virtuals[0].servers[0].address == "2001:db8::11"


def test_it_refuses_an_ipv6_zone_id_and_names_the_line():
    exc = error("virtual v6 {\n     address = fe80::10%eth0 eth0\n}\n")
    assert (exc.line, "zone id" in str(exc)) == (2, True)
    exc = error(
        "virtual v6 {\n     address = 2001:db8::10 eth0\n     server a {\n"
        "         address = fe80::1%$(id)\n     }\n}\n"
    )
    assert (exc.line, "zone id" in str(exc)) == (4, True)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("primary = director1\n", 1),
        ("virtual web {\n address = www.example eth0:1\n}\n", 2),
        ("virtual web {\n address = 192.0.2.80 eth0:1\n server one {\n  address = abc\n }\n}\n", 4),
    ],
)
def test_a_host_name_where_an_address_belongs_is_refused_naming_its_line(text, line):
    with pytest.raises(LvsConfError) as refused:
        parse(text)
    assert refused.value.line == line
    assert "is a host name: an IP address is needed here" in refused.value.reason


def _virtual(lines: str, head: str = "") -> str:
    return f"{head}virtual db {{\n     address = 192.0.2.10 eth0:1\n{lines}}}\n"


@pytest.mark.parametrize("tool", ["rup", "ruptime"])
def test_rup_and_ruptime_are_read_with_a_warning_naming_the_replacements(tool):
    text = _virtual(f"     load_monitor = {tool}\n")
    assert parsed(text).virtuals[0].load_monitor == tool
    [note] = warnings(text)
    assert note.startswith("line 3:") and "use agent, mysql or uptime" in note


def test_an_unknown_load_monitor_is_kept_with_a_warning_naming_the_line():
    text = _virtual("     load_monitor = sar\n")
    assert parsed(text).virtuals[0].load_monitor == "sar"
    assert warnings(text)[0].startswith("line 3: load_monitor 'sar' is not one of")


def test_uptime_without_ssh_is_read_with_a_warning():
    assert "runs over ssh only" in warnings(_virtual("     load_monitor = uptime\n"))[0]
    assert warnings(_virtual("     load_monitor = uptime\n", "rsh_command = ssh\n")) == []


def test_the_agent_keys_are_read_and_checked():
    text = _virtual("     load_monitor = agent\n     agent_port = 9777\n     agent_inter = 3\n")
    virtual = parsed(text).virtuals[0]
    assert (virtual.load_monitor, virtual.agent_port, virtual.agent_inter) == ("agent", 9777, 3)
    exc = error(_virtual("     load_monitor = agent\n"))
    assert exc.line == 4 and "load_monitor = agent needs agent_port" in exc.reason
    exc = error(_virtual("     agent_port = 70000\n"))
    assert exc.line == 3 and "agent_port 70000 is outside 1-65535" in exc.reason


def test_each_block_knows_the_line_of_every_key_it_was_given():
    # Blocks laid out alike share where their keys sit: a block laid out otherwise, a virtual's
    # keys after its server blocks and the device of `address = IP DEVICE` keep their own lines.
    config = parsed(
        "network = direct\n"
        "virtual a {\n     address = 192.0.2.1 eth0:1\n"
        "     server x {\n         address = 192.0.2.10\n     }\n     port = 80\n}\n"
        "virtual b {\n     address = 192.0.2.2 eth0:1\n"
        "     server x {\n         address = 192.0.2.10\n     }\n     port = 80\n}\n"
        "virtual c {\n     # a comment\n     address = 192.0.2.3 eth0:1\n"
        "     server x {\n\n         address = 192.0.2.10\n     }\n     port = 80\n}\n"
    )
    where = [(dict(v.lines), [dict(s.lines) for s in v.servers]) for v in config.virtuals]
    assert dict(config.lines) == {"network": 1}
    assert where == [
        ({"name": 2, "address": 3, "device": 3, "port": 7}, [{"name": 4, "address": 5}]),
        ({"name": 9, "address": 10, "device": 10, "port": 14}, [{"name": 11, "address": 12}]),
        ({"name": 16, "address": 18, "device": 18, "port": 23}, [{"name": 19, "address": 21}]),
    ]


def test_a_block_built_in_code_names_no_line():
    assert dict(VirtualServer("web", servers=[RealServer("a")]).lines) == {}
    assert RealServer("a").lines.get("address") is None
