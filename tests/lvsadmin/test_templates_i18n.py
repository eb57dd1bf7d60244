"""The pages are ready for translation: USE_I18N is on, so every page template marks its text."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# The Django admin's own templates we extend are translated by Django.
PAGES = sorted(p for p in TEMPLATES.rglob("*.html") if "admin" not in p.parts)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_page_template_loads_the_translation_tags(path):
    text = path.read_text(encoding="utf-8")
    assert "{% load i18n" in text
    assert "{% translate" in text or "{% blocktranslate" in text


def test_the_tab_labels_are_marked_for_translation():
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    for label in ("CONTROL/MONITORING", "GLOBAL SETTINGS", "REDUNDANCY", "VIRTUAL SERVERS"):
        assert f'{{% translate "{label}" %}}' in base


# --- Every user-visible word of a page is marked ---------------------------------------------------
# What may stay as it is: ipvsadm's own column names (the live table prints them as ipvsadm -Ln
# does, in every language), the product's name, and the shell commands of the set-up page.
UNTRANSLATED = {
    "Prot LocalAddress:Port Scheduler Flags",
    "-&gt; RemoteAddress:Port",
    "Forward",
    "Weight",
    "ActiveConn",
    "InActConn",
    "lvsadmin",
}
_BLOCKS = [
    re.compile(r"\{#.*?#\}", re.S),
    re.compile(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.S),
    re.compile(r"\{%\s*blocktranslate\b.*?\{%\s*endblocktranslate\s*%\}", re.S),
    re.compile(r"\{%\s*translate\b.*?%\}", re.S),
    re.compile(r"<(script|style|pre)\b.*?</\1>", re.S),
    re.compile(r"\{%.*?%\}", re.S),
    re.compile(r"\{\{.*?\}\}", re.S),
]
# Attributes a person reads (or hears, with a screen reader).
_SHOWN_ATTRIBUTES = re.compile(
    r"""\b(title|placeholder|aria-label|alt|data-copy-done|data-copy-failed)\s*=\s*("[^"]*"|'[^']*')"""
)
_SUBMIT_VALUE = re.compile(r"""<input\b[^>]*type="submit"[^>]*\bvalue="([^"]*)\"""")
_TAG = re.compile(r"<[^>]*>", re.S)
# Nothing to translate: blanks, digits, punctuation, symbols, HTML entities.
_NO_WORDS = re.compile(r"^(?:[\s\d\W_]|&[a-z]+;|&#\d+;)*$")


def _unmarked(template: str) -> list[str]:
    """The text of `template` (text nodes and shown attributes) outside translation tags."""
    text = template
    for pattern in _BLOCKS:  # marked text, code, and every other tag or variable: gone
        text = pattern.sub(" ", text)
    found = [match[2][1:-1] for match in _SHOWN_ATTRIBUTES.finditer(text)]
    found += [match[1] for match in _SUBMIT_VALUE.finditer(text)]
    found += _TAG.sub("\n", text).split("\n")  # what is left of the markup: text nodes
    unmarked = []
    for piece in found:
        piece = " ".join(piece.split())
        rest = piece
        for allowed in sorted(UNTRANSLATED, key=len, reverse=True):
            rest = rest.replace(allowed, " ")
        if piece and not _NO_WORDS.match(rest):
            unmarked.append(piece)
    return unmarked


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_user_visible_text_is_left_unmarked(path):
    assert _unmarked(path.read_text(encoding="utf-8")) == []


def test_the_admins_own_template_is_marked_too():
    page = TEMPLATES / "admin" / "realservers" / "set_weight.html"
    assert _unmarked(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet, left",
    [
        ("<p>Real servers checked: {{ n }}</p>", ["Real servers checked:"]),
        ('<p>{% translate "Real servers" %}: {{ n }}</p>', []),
        ('<a title="Delete it">{% translate "x" %}</a>', ["Delete it"]),
        ('<a title="{% translate "Delete it" %}">x</a>', ["x"]),
        ('<input type="submit" value="Set weight">', ["Set weight"]),
        ("<td>{{ v.port }}</td><td>&mdash; 80 / 443</td>", []),
        ("{% blocktranslate %}Page {{ n }}{% endblocktranslate %} &middot;", []),
        ("<th>ActiveConn</th>{# a comment #}", []),
        ("<pre>install -o root x</pre>", []),
    ],
)
def test_the_scan_finds_unmarked_text(snippet, left):
    assert _unmarked(snippet) == left
