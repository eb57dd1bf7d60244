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
