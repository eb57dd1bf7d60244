"""lvsadmin's own lvs.cf keys (fall, rise, slow_start, path_check, check and the HTTP/TLS keys): read and
written back unchanged, bad values refused naming the line, absent keys meaning nanny's
behaviour."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtualservers.lvsconf.model import LvsConfError, LvsConfig, VirtualServer
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render
from virtualservers.lvsconf.schema import CHECK_TYPES, HTTP_METHODS, parse_statuses

words = st.from_regex(r"[A-Za-z0-9/._:-]{1,30}", fullmatch=True)
statuses = st.lists(
    st.tuples(st.integers(100, 599), st.integers(0, 50)), min_size=1, max_size=4
).map(lambda parts: ",".join(f"{a}-{min(599, a + b)}" if b else str(a) for a, b in parts))


def maybe(strategy):
    return st.one_of(st.none(), strategy)


@given(
    fall=maybe(st.integers(1, 1000)),
    rise=maybe(st.integers(1, 1000)),
    slow_start=maybe(st.booleans()),
    path_check=maybe(st.booleans()),
    check=maybe(st.sampled_from(CHECK_TYPES)),
    http_method=maybe(st.sampled_from(HTTP_METHODS)),
    http_path=maybe(words.map(lambda w: "/" + w)),
    http_host=maybe(words),
    http_status=maybe(statuses),
    http_body=maybe(st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"'), max_size=30)),
    http_body_regex=maybe(st.booleans()),
    tls_verify=maybe(st.booleans()),
    tls_ca=maybe(words.map(lambda w: "/" + w)),
    tls_sni=maybe(words),
)  # fmt: skip
def test_the_check_keys_read_back_as_written(**keys):
    config = LvsConfig(
        network="direct", virtuals=[VirtualServer(name="www", active=True, port=80, **keys)]
    )
    parsed, warnings = parse(render(config))
    assert parsed == config and warnings == []


def test_absent_keys_mean_nannys_behaviour():
    (virtual,) = parse("virtual a {\n     timeout = 6\n     reentry = 15\n}\n")[0].virtuals
    assert (virtual.effective_fall, virtual.effective_rise, virtual.effective_slow_start) == (
        1,
        2,
        True,
    )
    assert virtual.check is None


@pytest.mark.parametrize(
    "line, words",
    [
        ("fall = 0", "fall 0 is outside 1-1000"),
        ("rise = 1001", "rise 1001 is outside 1-1000"),
        ("slow_start = 2", "boolean expected"),
        ("path_check = yes", "boolean expected"),
        ("check = smtp", "expected one of http, https, tls"),
        ("http_method = DELETE", "expected one of GET, HEAD, OPTIONS, POST"),
        ("http_status = 2xx", "http_status '2xx' is not a status code"),
        ("http_status = 300-200", "the lower first"),
        ("http_status = 200,", "is not a status code"),
    ],
)
def test_a_bad_value_is_refused_naming_its_line(line, words):
    with pytest.raises(LvsConfError) as caught:
        parse(f"virtual a {{\n     active = 1\n     {line}\n}}\n")
    assert caught.value.line == 3 and words in caught.value.reason


def test_status_ranges_are_read_as_pairs():
    assert parse_statuses("200-299,301,404") == ((200, 299), (301, 301), (404, 404))


def test_path_check_is_on_when_absent_and_written_only_when_off():
    (virtual,) = parse("virtual a {\n     active = 1\n}\n")[0].virtuals
    assert virtual.path_check is None and virtual.effective_path_check is True
    text = render(LvsConfig(network="direct", virtuals=[VirtualServer(name="a", active=True)]))
    assert "path_check" not in text  # a stock Piranha file stays byte-identical
    off = VirtualServer(name="a", active=True, path_check=False)
    text = render(LvsConfig(network="direct", virtuals=[off]))
    assert "     path_check = 0\n" in text
    assert parse(text)[0].virtuals[0].effective_path_check is False
