"""Render an LvsConfig in piranha-gui's exact layout.

Key order (the schema's), 5- and 9-space indents, double-quoted strings and LF line ends are those
of the stock GUI, so that a diff against a file piranha-gui wrote shows only real changes.
Absent (None) fields are not written; booleans are 0/1.
"""

from __future__ import annotations

import re

from virtualservers.lvsconf.model import FailoverService, LvsConfig, RealServer, VirtualServer
from virtualservers.lvsconf.schema import GLOBAL, SECTIONS, SERVER, VIRTUAL, Key

_NUMBERS = frozenset({"int", "port", "rport"})
_FLAGS = frozenset({"bool", "intbool"})

VIRTUAL_INDENT = " " * 5
SERVER_INDENT = " " * 9


def _quote(value: str, where: str) -> str:
    # The stock parser has no escape for '"' and is line oriented: such a value cannot be written.
    if '"' in value or "\n" in value or "\r" in value:
        raise ValueError(f"{where}: a double quote or line break cannot be written to lvs.cf")
    return f'"{value}"'


def _word(value: str, where: str) -> str:
    if not value or any(ch in value for ch in ' \t\r\n"'):
        raise ValueError(f"{where}: {value!r} must be one word (no blanks or quotes)")
    return value


def _raw(value: str, where: str) -> str:
    """A command pulse splits on blanks itself: written as it was read (quotes and all) when it is
    one token already, quoted when it has blanks."""
    if len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in value[1:-1]:
        if "\n" in value or "\r" in value:
            raise ValueError(f"{where}: a line break cannot be written to lvs.cf")
        return value
    if " " in value or "\t" in value:
        return _quote(value, where)
    return _word(value, where)


def format_value(key: Key, value: object, where: str) -> str:
    """`value` as written after `key =`; ValueError (naming `where` and the key) when lvs.cf
    cannot hold it. The forms call this too, so that they refuse what Apply could not write."""
    kind = key.kind
    here = f"{where} {key.name}"
    if kind in _FLAGS:
        return "1" if value else "0"
    if kind in _NUMBERS:
        return str(int(value))  # type: ignore[call-overload]
    if kind == "quoted":
        return _quote(str(value), here)
    if kind == "raw":
        return _raw(str(value), here)
    return _word(str(value), here)


def _lines(obj: object, keys: tuple[Key, ...], indent: str, where: str) -> list[str]:
    out: list[str] = []
    for key in keys:
        value = getattr(obj, key.attr)
        if value is None:
            continue
        if key.kind == "pair":
            here = f"{where} {key.name}"
            device = getattr(obj, key.second or "")
            text = _word(value, here) + (f" {_word(device, here)}" if device else "")
        else:
            text = format_value(key, value, where)
        out.append(f"{indent}{key.name} = {text}")
    return out


def _render_server(server: RealServer, virtual: str) -> list[str]:
    where = f"virtual {virtual} server {server.name}"
    lines = [f"{VIRTUAL_INDENT}server {_word(server.name, where)} {{"]
    lines += _lines(server, SECTIONS[SERVER], SERVER_INDENT, where)
    lines.append(f"{VIRTUAL_INDENT}}}")
    return lines


def _render_virtual(virtual: VirtualServer) -> list[str]:
    where = f"virtual {virtual.name}"
    lines = [f"virtual {_word(virtual.name, where)} {{"]
    lines += _lines(virtual, SECTIONS[VIRTUAL], VIRTUAL_INDENT, where)
    for server in virtual.servers:
        lines += _render_server(server, virtual.name)
    lines.append("}")
    return lines


_FAILOVER_KEY = re.compile(r"[a-z_][a-z0-9_]*")
_BLOCK_WORDS = frozenset({"virtual", "server", "failover"})


def _value_words(value: str) -> list[str] | None:
    """The words of `value` as the parser splits a line (a quoted string is one word), or None
    when a quote is not closed, or is followed by text without a blank."""
    words: list[str] = []
    i, n = 0, len(value)
    while i < n:
        if value[i] == " ":
            i += 1
        elif value[i] in "\"'":
            end = value.find(value[i], i + 1)
            if end < 0 or (end + 1 < n and value[end + 1] != " "):
                return None
            words.append(value[i : end + 1])
            i = end + 1
        else:
            end = value.find(" ", i)
            end = n if end < 0 else end
            words.append(value[i:end])
            i = end
    return words


def failover_item_problem(key: str, value: str) -> str | None:
    """Why `key = value` cannot be a line of a failover block, or None.

    Failover blocks are kept verbatim, so the value is written as it is: it must stay on its line
    and read back as the same words, and no word may open or close a block (a value holding a line
    break, `}` and `virtual evil {` would otherwise add a block nobody configured).
    """
    if not _FAILOVER_KEY.fullmatch(key) or key in _BLOCK_WORDS:
        return f"key {key!r} must be one lower-case word (a-z, 0-9, _), not a block keyword"
    if any(ch in value for ch in "\n\r\0"):
        return f"{key}: a line break or NUL cannot be written"
    words = _value_words(value)
    if not words:
        return f"{key}: a value is needed" if words is not None else f"{key}: unbalanced quotes"
    if " ".join(words) != value or any("\t" in w for w in words if w[0] not in "\"'"):
        return f"{key}: words must be separated by single blanks"
    if any(("{" in word or "}" in word) and word[0] not in "\"'" for word in words):
        return f"{key}: a brace would open or close a block; quote the word"
    return None


def _render_failover(failover: FailoverService) -> list[str]:
    where = f"failover {failover.name}"
    lines = [f"failover {_word(failover.name, 'failover')} {{"]
    for key, raw in failover.items:
        problem = failover_item_problem(key, raw)
        if problem is not None:
            raise ValueError(f"{where}: {problem}")
        lines.append(f"{VIRTUAL_INDENT}{key} = {raw}")
    lines.append("}")
    return lines


def render(config: LvsConfig) -> str:
    """The whole file, LF line ends, ending with a newline."""
    lines = _lines(config, SECTIONS[GLOBAL], "", "global")
    for failover in config.failovers:
        lines += _render_failover(failover)
    for virtual in config.virtuals:
        lines += _render_virtual(virtual)
    return "\n".join(lines) + "\n"
