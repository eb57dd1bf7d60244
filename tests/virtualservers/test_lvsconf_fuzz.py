"""The parser on anything: generated files and mutations of the real samples. It either reads the
file or raises LvsConfError naming a line of it, never anything else; and what it reads renders to
a text that parses back to itself (render -> parse -> render is a fixed point)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.virtualservers.samples import ALL_SAMPLES, sample_path
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render
from virtualservers.lvsconf.schema import KEYS

SAMPLES = [sample_path(name).read_bytes().decode() for name in ALL_SAMPLES]

words = st.one_of(
    st.sampled_from(sorted({k.name for k in KEYS})),
    st.sampled_from(["virtual", "server", "failover", "{", "}", "=", "#", '"', "'", "\r", "\t"]),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0x1F", "010", "-0", "+5", "http", "192.0.2.1", "2001:db8::1", "fe80::1%2"]),
    st.sampled_from(["255.255.255.0", "eth0:1", "wlc", "mh", "tcp", "direct", '"GET / x"']),
    st.text(max_size=8),
)
line_texts = st.lists(words, max_size=6).map(" ".join)
files = st.lists(line_texts, max_size=30).map("\n".join)


@st.composite
def mutated_samples(draw) -> str:
    lines = draw(st.sampled_from(SAMPLES)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete", "duplicate", "chop"]))
        if action == "replace":
            lines[where] = draw(line_texts)
        elif action == "insert":
            lines.insert(where, draw(line_texts))
        elif action == "delete" and len(lines) > 1:
            del lines[where]
        elif action == "duplicate":
            lines.insert(where, lines[where])
        else:
            cut = draw(st.integers(0, len(lines[where])))
            lines[where] = lines[where][:cut]
    return "\n".join(lines)


def check(text: str) -> None:
    try:
        config, notes = parse(text)
    except LvsConfError as exc:
        assert 1 <= exc.line <= max(1, text.count("\n") + 1), str(exc)
        assert str(exc).startswith(f"line {exc.line}: ")
        return
    assert all(1 <= n.line <= text.count("\n") + 1 for n in notes)
    try:
        written = render(config)
    except ValueError:
        return  # a value lvs.cf cannot carry back (a name with a quote in it): refused, not lost
    assert render(parse(written)[0]) == written


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files)
def test_a_generated_file_is_read_or_refused_naming_a_line(text):
    check(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_a_mutated_sample_is_read_or_refused_naming_a_line(text):
    check(text)
