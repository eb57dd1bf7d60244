"""BIRD's configuration as the worker writes it, checked by BIRD's own parser (`bird -p`), and
the pieces around it: each router's source address, the password file's rules, `birdc show
protocols` read back."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from monitoring.bgp import bird
from virtualservers.lvsconf.parse import parse

BIRD = shutil.which("bird") or "/usr/sbin/bird"
LVS_CF = (
    "primary = 198.51.100.11\n"
    "network = direct\n"
    "bgp = 1\n"
    "bgp_local_as = 64512\n"
    "bgp_router = 198.51.100.1\n"
    "bgp_router2 = 203.0.113.1\n"
    "bgp_router_as = 64513\n"
    "bgp_med = 198.51.100.12=50,198.51.100.11=20\n"
)


def settings(extra: str = "") -> bird.BgpSettings:
    return bird.BgpSettings.from_config(parse(LVS_CF + extra)[0])


def parsed_by_bird(tmp_path: Path, text: str) -> str:
    conf = tmp_path / "bird.conf"
    conf.write_text(text)
    return bird.Bird(bird.BirdPaths(conf, tmp_path / "s", tmp_path / "p", bird=BIRD)).check()


SOURCES = ("198.51.100.11", "203.0.113.11")


def test_birds_parser_accepts_the_configuration_with_vips_bfd_two_routers_and_a_password(
    tmp_path,
):
    text = bird.render(settings(), SOURCES, ["192.0.2.100", "192.0.2.101"], "s3cret", "rev 4")
    assert parsed_by_bird(tmp_path, text) == ""
    assert "route 192.0.2.100/32 unreachable;" in text
    assert "neighbor 203.0.113.1 as 64513;" in text and "local 203.0.113.11 as 64512;" in text
    assert text.count("bfd on;") == 2 and "interval 100 ms;" in text
    assert "bgp_med = 20;" in text  # this director's own MED, keyed by its address
    assert "hold time 9;" in text and 'password "s3cret";' in text


def test_birds_parser_accepts_the_configuration_that_announces_nothing(tmp_path):
    text = bird.render(settings("bgp_bfd = 0\n"), SOURCES, [])
    assert parsed_by_bird(tmp_path, text) == ""
    assert "route " not in text and "protocol bfd" not in text and "bfd off;" in text


def test_the_export_filter_lets_out_only_the_announced_vips(tmp_path):
    text = bird.render(settings(), SOURCES, ["192.0.2.100"])
    assert 'if proto = "lvsadmin_vips" && net ~ [ 192.0.2.100/32 ] then' in text
    assert "import none;" in text and "export filter lvsadmin_export;" in text


def test_birds_parser_is_really_consulted(tmp_path):
    assert "syntax error" in parsed_by_bird(tmp_path, "protocol bgp {\n").lower()


def test_each_router_gets_this_directors_address_on_its_network():
    local = [("192.0.2.100", 32), ("203.0.113.11", 24), ("198.51.100.11", 24)]
    assert bird.source_addresses(("198.51.100.1", "203.0.113.1"), local) == SOURCES


def test_a_router_on_no_network_of_this_director_is_an_error():
    with pytest.raises(bird.BgpError, match="no address of this director is on router"):
        bird.source_addresses(("198.51.100.1",), [("192.0.2.100", 32)])


def test_the_password_file_must_be_roots_and_private(tmp_path):
    path = tmp_path / "bgp-password"
    path.write_text("s3cret\n")
    path.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
        assert bird.read_password(str(path)) == "s3cret"
    path.chmod(0o644)
    with pytest.raises(bird.BgpError, match="owned by root with mode 0600"):
        bird.read_password(str(path))


def test_a_password_that_would_break_birds_quoting_is_refused(tmp_path):
    path = tmp_path / "bgp-password"
    path.write_text('a"b\n')
    path.chmod(0o600)
    os.chown(path, os.geteuid(), os.getegid())
    with pytest.raises(bird.BgpError):
        bird.read_password(str(path))


def test_show_protocols_is_read_back():
    text = (
        "BIRD 2.0.12 ready.\n"
        "Name       Proto      Table      State  Since         Info\n"
        "device1    Device     ---        up     04:01:02.123  \n"
        "router1    BGP        ---        up     04:01:07.456  Established   \n"
        "router2    BGP        ---        start  04:01:02.123  Active        Socket: Connection refused\n"
    )
    found = bird.parse_protocols(text)
    assert [(p.name, p.state, p.info) for p in found] == [
        ("device1", "up", ""),
        ("router1", "up", "Established"),
        ("router2", "start", "Active        Socket: Connection refused"),
    ]
    assert [p.established for p in found] == [False, True, False]


def test_a_sessions_since_is_read_with_its_date_for_the_uptime():
    text = (
        "BIRD 2.0.12 ready.\n"
        "Name       Proto      Table      State  Since         Info\n"
        "router1    BGP        ---        up     2026-12-06 06:15:27  Established\n"
    )
    (session,) = bird.parse_protocols(text)
    assert session.established and session.since == "2026-12-06 06:15:27"
    assert session.since_timestamp() == datetime(2026, 12, 6, 6, 15, 27).timestamp()
    assert "timeformat protocol iso long;" in bird.render(settings(), SOURCES, [])
