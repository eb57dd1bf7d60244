"""Translation for the Django-free cores (lvs.cf, the live table's words, notifications...).

They cannot import Django, so they mark their text with the functions here; the Django side
installs Django's own at start (VirtualServersConfig.ready), and `manage.py makemessages` finds
the marked text as it finds the rest (`_`, `gettext`, `ngettext`). Without Django (a core used on
its own, `applylvs --config` on a bare machine) the text stays English.

Two languages are at work: the reader's (the request's, or the process's in the worker), and the
one text is written in when nobody is reading yet (notifications: LVSADMIN_LANGUAGE).
"""

from __future__ import annotations

from collections.abc import Callable

Translate = Callable[[str], str]
TranslatePlural = Callable[[str, str, int], str]


def _same(message: str) -> str:
    return message


def _same_plural(singular: str, plural: str, number: int) -> str:
    return singular if number == 1 else plural


_reader: Translate = _same
_reader_plural: TranslatePlural = _same_plural
_written: Translate = _same
_written_plural: TranslatePlural = _same_plural


def install(
    reader: Translate,
    reader_plural: TranslatePlural,
    written: Translate,
    written_plural: TranslatePlural,
) -> None:
    global _reader, _reader_plural, _written, _written_plural
    _reader, _reader_plural, _written, _written_plural = (
        reader,
        reader_plural,
        written,
        written_plural,
    )


def gettext(message: str) -> str:
    """`message` in the reader's language."""
    return _reader(message)


def ngettext(singular: str, plural: str, number: int) -> str:
    return _reader_plural(singular, plural, number)


def gettext_written(message: str) -> str:
    """`message` in the language text with no reader yet is written in (notifications)."""
    return _written(message)


def ngettext_written(singular: str, plural: str, number: int) -> str:
    return _written_plural(singular, plural, number)


def gettext_noop(message: str) -> str:
    """Marks `message` for the catalogue; translated later, where it is shown."""
    return message


class Wording:
    """Text a process recorded in English (a check's reason, a director's state) shown in the
    reader's language: whole phrases, and patterns whose named groups are kept as recorded
    (addresses, OS messages...) and put back into the translated sentence. A group named "error"
    is itself looked up again. Text it does not know, or a reader of the recorded language, gets
    it as recorded."""

    def __init__(self, phrases: list[str], patterns: list[tuple[str, str]]) -> None:
        import re

        self.phrases = set(phrases)
        self.patterns = [(re.compile(pattern, re.S), words) for pattern, words in patterns]

    def shown(self, text: str) -> str:
        if not text:
            return text
        if text in self.phrases:
            return gettext(text)
        for pattern, words in self.patterns:
            match = pattern.match(text)
            if match is not None:
                if gettext(words) == words:
                    return text  # the recorded language itself (English): exactly as recorded
                values = {
                    name: self.shown(value) if name == "error" else value
                    for name, value in match.groupdict().items()
                }
                return gettext(words) % values
        return text
