"""Failover blocks are written verbatim: no item may break out of its line or its block."""

import pytest

from virtualservers.lvsconf.model import FailoverService, LvsConfig
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import failover_item_problem, render

INJECTION = "192.0.2.9 eth0:1\n}\nvirtual evil {\n     address = 192.0.2.66 eth0:1\n     active = 1"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("address", "192.0.2.9 eth0:1"),
        ("send", '"GET / HTTP/1.0\\r\\n\\r\\n"'),
        ("start_cmd", '"/etc/init.d/httpd start"'),
        ("expect", '"{ok}"'),
    ],
)
def test_an_item_as_an_import_reads_it_is_accepted(key, value):
    assert failover_item_problem(key, value) is None


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("address", INJECTION, "line break"),
        ("address", "x\r", "line break"),
        ("address", "x\0", "NUL"),
        ("address", "x } virtual evil {", "brace"),
        ("address", "}", "brace"),
        ("send", '"GET /', "unbalanced quotes"),
        ("send", '"a"b', "unbalanced quotes"),
        ("address", "a  b", "single blanks"),
        ("address", "a\tb", "single blanks"),
        ("address", "", "a value is needed"),
        ("Address", "x", "lower-case word"),
        ("virtual", "x", "block keyword"),
        ("a b", "x", "lower-case word"),
    ],
)
def test_an_item_that_could_break_the_block_is_named(key, value, words):
    assert words in failover_item_problem(key, value)


def test_the_renderer_refuses_an_injected_block_naming_the_failover():
    config = LvsConfig(failovers=[FailoverService(name="web1", items=[("address", INJECTION)])])
    with pytest.raises(ValueError, match="failover web1: address: a line break"):
        render(config)


def test_every_accepted_item_reads_back_as_written():
    items = [("address", "192.0.2.9 eth0:1"), ("send", '"GET / HTTP/1.0"'), ("expect", '"{ok}"')]
    text = render(LvsConfig(failovers=[FailoverService(name="web1", items=items)]))
    config, _warnings = parse(text)
    assert config.failovers[0].items == items
