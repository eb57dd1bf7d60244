"""A message about a bad lvs.cf quotes the offending value cut to a readable length: a 10 MB
`primary` line gave a 10,485,826-byte message (in a terminal, a log, an audit entry)."""

import re

import pytest

from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse

HUGE = "x" * (10 * 1024 * 1024)
# The value's head as quoted (80 characters), the rest of the message, the line: far below this.
READABLE = 400


@pytest.mark.parametrize(
    "text",
    [
        f"primary = {HUGE}\n",  # not an address (the probe's case)
        f"primary = {'1' * 40 + HUGE}\n",
        f"keepalive = {HUGE}\n",  # not an integer
        f"backup_active = {HUGE}\n",  # not a boolean
        f"network = {HUGE}\n",  # not one of the choices
        f"{HUGE} = 1\n",  # not a key
        f"virtual web {{\n address = 192.0.2.80 eth0:1\n port = {HUGE}\n}}\n",  # not a port
        f"virtual web {{\n scheduler = {HUGE}\n}}\n",
        f"virtual web {{\n address = 192.0.2.80 eth0:1\n vip_nmask = {HUGE}\n}}\n",
        f"virtual web {{\n sorry_server = {HUGE}\n}}\n",
    ],
    ids=lambda text: text[:14].replace("\n", " ").strip(),
)
def test_a_huge_bad_value_gives_a_short_message_naming_the_line(text):
    with pytest.raises(LvsConfError) as refused:
        parse(text)
    message = str(refused.value)
    assert len(message) < READABLE, message[:READABLE]
    assert message.startswith(f"line {refused.value.line}: ")
    assert re.search(r"(x{10}|1{10})'?… \(", message)  # its head, then an ellipsis
    assert re.search(r"10,485,\d{3} characters", message)  # how long the value really was


def test_a_huge_value_too_many_is_not_quoted_at_all():
    with pytest.raises(LvsConfError) as refused:
        parse(f"serial_no = 1 {HUGE}\n")
    assert str(refused.value) == "line 1: unexpected arguments after serial_no = 1"


def test_a_short_bad_value_is_still_quoted_whole():
    with pytest.raises(LvsConfError, match=r"line 1: integer expected, got 'twelve'$"):
        parse("keepalive = twelve\n")


def test_a_warning_quotes_a_huge_block_name_cut_too():
    name = "v" * 100_000
    _config, warnings = parse(
        f"virtual {name} {{\n address = 192.0.2.80 eth0:1\n pmask = 255.255.255.0\n}}\n"
    )
    (warning,) = [w for w in warnings if "pmask" in w.message]
    assert len(warning.message) < READABLE
    assert "vvvvvvvvvv…" in warning.message
