"""Announce only what can be served: the rule on plain data."""

from __future__ import annotations

from monitoring.bgp.announce import NOBODY_UP, NOT_LOADED, Decision, announced, decide
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.lvsconf.parse import parse

CONFIG = parse(
    "network = direct\nbgp = 1\n"
    "virtual web {\n active = 1\n address = 192.0.2.100 lo\n port = 80\n scheduler = mh\n"
    "     server a {\n address = 203.0.113.1\n active = 1\n }\n"
    "     server b {\n address = 203.0.113.2\n active = 1\n }\n}\n"
    "virtual db {\n active = 1\n address = 192.0.2.101 lo\n port = 3306\n"
    " sorry_server = 203.0.113.9\n"
    "     server c {\n address = 203.0.113.3\n active = 1\n }\n}\n"
    "virtual tls {\n active = 1\n address = 192.0.2.100 lo\n port = 443\n"
    "     server d {\n address = 203.0.113.4\n active = 1\n }\n}\n"
    "virtual off {\n active = 0\n address = 192.0.2.102 lo\n port = 80\n"
    "     server e {\n address = 203.0.113.5\n active = 1\n }\n}\n"
)[0]
A, B = RealServerRef("web", "203.0.113.1", 80), RealServerRef("web", "203.0.113.2", 80)
C, D = RealServerRef("db", "203.0.113.3", 3306), RealServerRef("tls", "203.0.113.4", 443)


def test_every_vip_with_a_server_up_is_announced_once_the_table_is_loaded():
    decisions = decide(CONFIG, table_loaded=True)
    assert announced(decisions) == ["192.0.2.100", "192.0.2.101"]  # not the inactive virtual


def test_nothing_is_announced_before_the_worker_has_loaded_the_table():
    assert decide(CONFIG, table_loaded=False) == [
        Decision("192.0.2.100", False, NOT_LOADED),
        Decision("192.0.2.101", False, NOT_LOADED),
    ]


def test_a_vip_stays_announced_while_one_server_of_one_of_its_virtuals_is_up():
    assert announced(decide(CONFIG, True, down={A, B})) == ["192.0.2.100", "192.0.2.101"]
    assert announced(decide(CONFIG, True, down={A, D})) == ["192.0.2.100", "192.0.2.101"]


def test_a_vip_whose_servers_are_all_down_is_withdrawn_with_the_reason():
    decisions = decide(CONFIG, True, down={A, B, D})
    assert Decision("192.0.2.100", False, NOBODY_UP) in decisions
    assert announced(decisions) == ["192.0.2.101"]


def test_the_sorry_server_keeps_its_vip_announced():
    assert "192.0.2.101" in announced(decide(CONFIG, True, down={C}))


def test_servers_drained_or_in_maintenance_serve_nothing_new():
    assert announced(decide(CONFIG, True, down={A, B}, held={D: "drain"})) == ["192.0.2.101"]
    assert announced(decide(CONFIG, True, down={B, D}, held={A: "maintenance"})) == ["192.0.2.101"]
