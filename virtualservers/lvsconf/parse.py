"""Parse an lvs.cf as piranha 0.8.6's own parser (lvsconfig.c) reads it.

What the stock parser refuses raises LvsConfError with the line number and its reason (in the
stock parser's words, plus a hint). What it accepts but probably does not mean what the author
thinks (CRLF line ends, single quotes, octal-looking numbers, schedulers pulse cannot load) comes
back as ParseWarnings. Which keys exist, their kinds and ranges come from schema.py; a value outside
what the kernel can take is an error, one only outside the GUI's range a warning.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType

from virtualservers.lvsconf.model import (
    DEFAULT_PORT,
    PIRANHA_SCHEDULERS,
    SCHEDULERS,
    FailoverService,
    LvsConfError,
    LvsConfig,
    ParseWarning,
    RealServer,
    VirtualServer,
)
from virtualservers.lvsconf.schema import (
    GLOBAL,
    LOAD_MONITORS,
    RETIRED_LOAD_MONITORS,
    SECTIONS,
    SERVER,
    VIRTUAL,
    Key,
    parse_meds,
    parse_statuses,
)

# strtol(..., 0): hex, octal (leading zero) or decimal, with an optional sign.
_INT_RE = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$")
# Longer than any value a key can take (2**64 has 20 digits); also keeps int() far from Python's
# limit on very long digit strings.
_MAX_DIGITS = 24
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# /etc/services may be missing on a minimal system: the names Piranha users write most.
_FALLBACK_SERVICES = {
    "http": 80,
    "https": 443,
    "ftp": 21,
    "smtp": 25,
    "mysql": 3306,
    "domain": 53,
    "pop3": 110,
    "imap": 143,
    "ldap": 389,
    "sip": 5060,
}


# A key, its converter, the number of words on its line, and the bounds within which a value is
# fine without asking the schema.
_Entry = tuple[Key, Callable[[str], object], int, int | None, int | None]
# White space other than blank, tab and line feed.
_OTHER_SPACE = re.compile(r"[^\S \t\n]")
_OTHER_ASCII_SPACE = "\r\x0b\x0c\x1c\x1d\x1e\x1f"


# No block yet (a parsed block has at least its opening line).
_NO_LINES: Mapping[str, int] = MappingProxyType({})

# A value quoted in a message is cut to this many characters: a 10 MB line gave a 10 MB message.
SHOWN_CHARS = 80


def shown(value: str) -> str:
    """`value` as a message shows it: whole when short, else its head, an ellipsis and its
    length (the reader still learns what it was and how long)."""
    if len(value) <= SHOWN_CHARS:
        return value
    return f"{value[:SHOWN_CHARS]}… ({len(value):,} characters)"


def quoted(value: str) -> str:
    """`value` in quotes (repr), cut as `shown` cuts it."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}… ({len(value):,} characters)"


def _plain_spacing(text: str) -> bool:
    """Whether blanks, tabs and line feeds are the only white space in `text`."""
    if text.isascii():  # a few substring scans are much faster than the regular expression
        return not any(ch in text for ch in _OTHER_ASCII_SPACE)
    return _OTHER_SPACE.search(text) is None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.crlf_warned = False
        self.warnings: list[ParseWarning] = []
        self.line_no = 0
        self.config = LvsConfig()
        self.virtual: VirtualServer | None = None
        self.failover: FailoverService | None = None
        self.server: RealServer | None = None
        # The virtual's port as known when each server line was read: the stock parser gives a
        # server without `port` the virtual's port at that moment, not the final one.
        self.server_port_at_read: dict[int, int] = {}
        # Addresses already read, canonical: real files repeat the same few many times.
        self.addresses: dict[str, str] = {}
        # What the configuration keeps, one object for each distinct value (device names, block
        # names, send strings, ports repeat over thousands of blocks; the worker holds them all).
        self.words: dict[str, str] = {}
        self.numbers: dict[str, int] = {}
        # The open blocks' keys by attribute, at their distance from the block's opening line; on
        # closing, one mapping shared by every block laid out alike (model._Block).
        self.virtual_offsets: dict[str, int] = {}
        self.server_offsets: dict[str, int] = {}
        self.layouts: dict[frozenset[tuple[str, int]], Mapping[str, int]] = {}
        # The last server's and virtual's: the next block is most often laid out alike.
        self.last_server: Mapping[str, int] = _NO_LINES
        self.last_virtual: Mapping[str, int] = _NO_LINES

    # --- errors and warnings -------------------------------------------------------------------
    def fail(self, reason: str) -> LvsConfError:
        return LvsConfError(self.line_no, reason)

    def warn(self, message: str) -> None:
        self.warnings.append(ParseWarning(self.line_no, message))

    # --- tokens --------------------------------------------------------------------------------
    def tokenize(self, line: str) -> list[str]:
        if '"' not in line and "'" not in line:  # the common case, at C speed
            return [token for token in line.replace("\t", " ").split(" ") if token]
        tokens: list[str] = []
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if ch in " \t":
                i += 1
                continue
            if ch in "\"'":
                end = line.find(ch, i + 1)
                if end < 0:
                    raise self.fail(f"quotation mismatch: the {ch} opened here is never closed")
                if end + 1 < n and line[end + 1] not in " \t":
                    raise self.fail(
                        f"quotation mismatch: text follows the closing {ch} without a blank"
                    )
                tokens.append(line[i : end + 1])
                i = end + 1
                continue
            start = i
            while i < n and line[i] not in " \t":
                i += 1
            tokens.append(line[start:i])
        return tokens

    # --- values --------------------------------------------------------------------------------
    def integer(self, word: str) -> int:
        known = self.numbers.get(word)
        if known is not None:
            return known
        if word.isdigit() and word.isascii() and (word[0] != "0" or len(word) == 1):
            if len(word) > _MAX_DIGITS:
                raise self.fail(f"integer out of range: {shown(word)}")
            # The common case, without the regular expression; kept for the next time (a value
            # that warns, such as an octal one, is not: each of its lines warns).
            value = self.numbers[word] = int(word)
            return value
        if not _INT_RE.match(word):
            raise self.fail(f"integer expected, got {quoted(word)}")
        if len(word) > _MAX_DIGITS:
            raise self.fail(f"integer out of range: {shown(word)}")
        sign = -1 if word.startswith("-") else 1
        body = word.lstrip("+-")
        if body[:2] in ("0x", "0X"):
            return sign * int(body, 16)
        if len(body) > 1 and body[0] == "0":
            value = int(body, 8)  # strtol(..., 0): a leading zero means octal
            self.warn(f"{word} has a leading zero: piranha reads it as octal ({value})")
            return sign * value
        return sign * int(body)

    def boolean(self, word: str) -> bool:
        if word not in ("0", "1"):
            raise self.fail(f"boolean expected (0 or 1), got {quoted(word)}")
        return word == "1"

    def address(self, word: str) -> str:
        known = self.addresses.get(word)
        if known is not None:
            return known
        self.no_zone_id(word)
        try:
            canonical = str(ipaddress.ip_address(word))
        except ValueError:
            pass
        else:
            self.addresses[word] = canonical
            return canonical
        if _HOSTNAME_RE.match(word) and not word.replace(".", "").isdigit():
            # pulse resolved names when it started; lvsadmin never does, and the forms take
            # addresses only: a name kept with a warning reached the table builder and died
            # there (applylvs --config with `address = abc`). Refused here, with its line.
            raise self.fail(
                f"{shown(word)} is a host name: an IP address is needed here (the kernel's IPVS table "
                "holds addresses, and lvsadmin resolves no names)"
            )
        raise self.fail(f"invalid host name or ip address: {quoted(word)}")

    def dotted_ip(self, word: str) -> str:
        self.no_zone_id(word)
        try:
            return str(ipaddress.ip_address(word))
        except ValueError:
            raise self.fail(
                f"invalid host name or ip address: {quoted(word)} (an address is required here)"
            ) from None

    def no_zone_id(self, word: str) -> None:
        # Python reads fe80::1%eth0, but neither the kernel's IPVS table nor the forms take a zone,
        # and a sending program would get it through %h.
        if "%" in word:
            raise self.fail(
                f"invalid host name or ip address: {quoted(word)} (an IPv6 zone id such as %eth0 is not allowed)"
            )

    def netmask(self, word: str) -> str:
        try:
            if "." not in word:
                raise ValueError
            ipaddress.IPv4Network(f"0.0.0.0/{word}")
        except ValueError:
            raise self.fail(f"Bad subnet mask specified: {quoted(word)}") from None
        return word

    def port(self, word: str) -> int:
        if _INT_RE.match(word):
            return self.integer(word)
        try:
            return socket.getservbyname(word, "tcp")
        except (OSError, UnicodeError):
            if word not in _FALLBACK_SERVICES:
                raise self.fail(
                    f"invalid argument: {quoted(word)} is not a port number or service name"
                ) from None
            return _FALLBACK_SERVICES[word]

    def choice(self, options: tuple[str, ...]) -> Callable[[str], str]:
        own = {option: option for option in options}  # the schema's string, not the line's copy

        def check(word: str) -> str:
            option = own.get(word)
            if option is None:
                raise self.fail(
                    f"invalid argument: {quoted(word)} (expected one of {', '.join(options)})"
                )
            return option

        return check

    def quoted(self, word: str) -> str:
        if len(word) >= 2 and word[0] == word[-1] == '"':
            return self.word(word[1:-1])
        if len(word) >= 2 and word[0] == word[-1] == "'":
            self.warn(
                f"single quotes are kept by piranha: the value is {shown(word)} including the quotes; use double quotes"
            )
        return self.word(word)

    def word(self, word: str) -> str:
        """`word`, or the equal string read before (one object for every copy)."""
        return self.words.setdefault(word, word)

    # --- lines ---------------------------------------------------------------------------------
    def parse(self) -> tuple[LvsConfig, list[ParseWarning]]:
        nul = self.text.find("\0")
        if nul >= 0:
            self.line_no = self.text.count("\n", 0, nul) + 1
            raise self.fail("a NUL byte: lvs.cf is text, and the GUI refuses NUL as well")
        lines = self.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        # str.split() splits on blanks and on other white space (vertical tab, form feed, CR,
        # Unicode spaces) that the stock parser keeps inside a word: usable only when the file
        # has none of those, which one scan of the whole text tells.
        plain = _plain_spacing(self.text)
        saw_anything = False
        keys, target, offsets, first = self.scope()
        for self.line_no, raw in enumerate(lines, start=1):
            if plain and '"' not in raw and "'" not in raw:  # the common case, at C speed
                tokens = raw.split()
                if not tokens or tokens[0][0] == "#":
                    continue
            else:
                tokens = self.slow_tokens(raw)
                if not tokens:
                    continue
            saw_anything = True
            # The common case inline: `key = value` with the right number of values.
            entry = keys.get(tokens[0])
            if entry is not None and len(tokens) == entry[2] and tokens[1] == "=":
                key, convert, _count, low, high = entry
                if key.second is not None:  # address = IP DEVICE, nat_router = IP DEVICE
                    setattr(target, key.attr, self.address(tokens[2]))
                    setattr(target, key.second, self.word(tokens[3]))
                    offsets[key.second] = self.line_no - first
                else:
                    value = convert(tokens[2])
                    if low is not None and not low <= value <= high:
                        self.out_of_range(key, value)
                    setattr(target, key.attr, value)
                offsets[key.attr] = self.line_no - first
            else:
                self.other_line(tokens)
                keys, target, offsets, first = self.scope()
        if not saw_anything:
            self.line_no = max(1, len(lines))
            raise self.fail("Empty configuration")
        # EOF inside an open block is accepted by the stock parser.
        if self.server is not None:
            self.close_server()
        if self.virtual is not None:
            self.close_virtual()
        self.failover = None
        return self.config, self.warnings

    def slow_tokens(self, raw: str) -> list[str]:
        """The words of a line with quotes, CR or unusual white space; [] for blank or comment."""
        line = raw
        if line.endswith("\r"):
            line = line[:-1]
            if not self.crlf_warned:
                self.warn(
                    "CRLF line ends: piranha 0.8.6 silently skips lines in such a file; lvsadmin writes LF only"
                )
                self.crlf_warned = True
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            return []
        return self.tokenize(stripped)

    def scope(self) -> tuple[dict[str, _Entry], object, dict[str, int], int]:
        """The keys of the block being read, the object they set (none in a failover block,
        whose lines other_line keeps verbatim), where their lines go and the line those count
        from (the block's opening line; 0 in the global section, whose lines are kept as read)."""
        if self.failover is not None:
            return {}, None, {}, 0
        if self.server is not None:
            assert self.server.line is not None
            return self.tables[SERVER], self.server, self.server_offsets, self.server.line
        if self.virtual is not None:
            assert self.virtual.line is not None
            return self.tables[VIRTUAL], self.virtual, self.virtual_offsets, self.virtual.line
        return self.tables[GLOBAL], self.config, self.config.lines, 0

    def out_of_range(self, key: Key, value: int) -> None:
        problem = key.check(value)
        if problem is not None:
            fatal, reason = problem
            if fatal:
                raise self.fail(reason)
            self.warn(reason)

    def other_line(self, tokens: list[str]) -> None:
        """Block lines, failover keys and every error (parse() reads the common lines)."""
        head = tokens[0]
        if head == "}":
            # Trailing junk after a closing brace is ignored by the stock parser.
            self.close_block()
            return
        if head in ("virtual", "server", "failover"):
            if len(tokens) < 3:
                raise self.fail(
                    f"missing arguments: a block opens as `{head} NAME {{` with the brace as its own word"
                )
            if len(tokens) > 3 or tokens[2] != "{":
                raise self.fail(f"unexpected arguments: a block opens as `{head} NAME {{`")
            self.open_block(head, tokens[1])
            return
        if self.server is not None:
            section = SERVER
        elif self.virtual is not None:
            section = VIRTUAL
        elif self.failover is not None:
            self.failover_line(tokens)
            return
        else:
            section = GLOBAL
        entry = self.tables[section].get(head)
        if entry is None:
            where = {SERVER: "a server block", VIRTUAL: "a virtual block"}.get(
                section, "the global section"
            )
            raise self.fail(f"unknown command: {quoted(head)} is not a key of {where}")
        if len(tokens) < 2 or tokens[1] != "=":
            raise self.fail("equal (=) expected after command")
        self.wrong_count(entry[0], tokens[2:])

    def wrong_count(self, key: Key, values: list[str]) -> None:
        count = key.values
        if len(values) < count:
            raise self.fail(
                f"missing arguments: {key.name} takes {count} value{'s' if count > 1 else ''}"
            )
        hint = (
            " (inline comments are not allowed)" if any(v.startswith("#") for v in values) else ""
        )
        raise self.fail(f"unexpected arguments after {key.name} = {shown(values[0])}{hint}")

    @cached_property
    def tables(self) -> dict[str, dict[str, _Entry]]:
        """Per section, each key of the schema with the converter of its kind, bound once: this
        runs for every line of a large file."""
        converters: dict[str, Callable[[str], object]] = {
            "int": self.integer,
            "bool": self.boolean,
            "intbool": self.int_boolean,
            "ip": self.address,
            "pair": self.address,
            "dotted": self.dotted_ip,
            "mask": self.netmask,
            "port": self.port,
            "rport": self.integer,  # real-server ports take no service names
            "quoted": self.quoted,
            "raw": self.word,
            "word": self.word,
            "scheduler": self.scheduler,
            "load_monitor": self.load_monitor,
            "statuses": self.statuses,
            "meds": self.meds,
        }
        tables: dict[str, dict[str, _Entry]] = {}
        for section, keys in SECTIONS.items():
            tables[section] = {}
            for k in keys:
                convert = self.choice(k.choices) if k.kind == "choice" else converters[k.kind]
                # Values inside these bounds need no look at the schema's ranges (the GUI's range
                # lies within the kernel's wherever both exist).
                bounds = k.gui or k.limits
                low, high = (bounds.low, bounds.high) if bounds else (None, None)
                tables[section][k.name] = (k, convert, k.values + 2, low, high)
        return tables

    def int_boolean(self, word: str) -> bool:
        value = self.integer(word)
        if value not in (0, 1):
            self.warn(f"{shown(word)} read as {'on' if value else 'off'}: expected 0 or 1")
        return bool(value)

    def scheduler(self, word: str) -> str:
        if word not in SCHEDULERS:
            raise self.fail(
                f"invalid argument: scheduler {quoted(word)} (expected one of {', '.join(SCHEDULERS)})"
            )
        if word not in PIRANHA_SCHEDULERS:
            self.warn(f"scheduler {word} works with lvsadmin, but a stock piranha pulse refuses it")
        return self.word(word)

    def load_monitor(self, word: str) -> str:
        """Any word, as pulse took any; what lvsadmin cannot act on is kept with a warning."""
        if word in RETIRED_LOAD_MONITORS:
            self.warn(
                f"load_monitor = {word} needs {'rstatd' if word == 'rup' else 'rwhod'} on every "
                "real server, which no current distribution runs: nothing acts on it (kept); "
                "use agent, mysql or uptime"
            )
        elif word not in LOAD_MONITORS:
            self.warn(
                f"load_monitor {quoted(word)} is not one of {', '.join(LOAD_MONITORS)}: "
                "nothing acts on it (kept, as pulse keeps it)"
            )
        elif word == "uptime" and (self.config.rsh_command or "rsh") != "ssh":
            self.warn(
                "load_monitor = uptime runs over ssh only: set rsh_command = ssh "
                "(rsh sends everything in clear); until then no load is read"
            )
        return self.word(word)

    def statuses(self, word: str) -> str:
        try:
            parse_statuses(word)
        except ValueError as exc:
            raise self.fail(f"invalid argument: http_status {shown(str(exc))}") from None
        return word

    def meds(self, word: str) -> str:
        try:
            parse_meds(word)
        except ValueError as exc:
            raise self.fail(f"invalid argument: bgp_med {exc}") from None
        return word

    def failover_line(self, tokens: list[str]) -> None:
        assert self.failover is not None
        if len(tokens) < 2 or tokens[1] != "=":
            raise self.fail("equal (=) expected after command")
        if len(tokens) < 3:
            raise self.fail(f"missing arguments: {shown(tokens[0])} takes a value")
        self.failover.items.append((tokens[0], " ".join(tokens[2:])))

    # --- blocks --------------------------------------------------------------------------------
    def open_block(self, kind: str, name: str) -> None:
        if kind == "server":
            if self.virtual is None:
                raise self.fail("server blocks belong inside a virtual block")
            if self.server is not None:
                raise self.fail("a server block cannot contain another block")
            self.server = RealServer(name=self.word(name), line=self.line_no)
            self.server_offsets["name"] = 0
            self.server_port_at_read[id(self.server)] = self.virtual.effective_port
            return
        if self.virtual is not None or self.failover is not None:
            raise self.fail(f"a {kind} block cannot be opened inside another block")
        if kind == "virtual":
            self.virtual = VirtualServer(name=self.word(name), line=self.line_no)
            self.virtual_offsets["name"] = 0
        else:
            self.failover = FailoverService(name=name)

    def close_block(self) -> None:
        if self.server is not None:
            self.close_server()
        elif self.virtual is not None:
            self.close_virtual()
        elif self.failover is not None:
            self.config.failovers.append(self.failover)
            self.failover = None
        else:
            raise self.fail("unexpected `}`: no block is open")

    def close_server(self) -> None:
        assert self.virtual is not None and self.server is not None
        self.server.offsets = self.last_server = self.shared(self.server_offsets, self.last_server)
        self.virtual.servers.append(self.server)
        self.server = None

    def shared(self, offsets: dict[str, int], last: Mapping[str, int]) -> Mapping[str, int]:
        """A closing block's `offsets` as the mapping every block laid out alike shares
        (read-only: one change would move the lines of thousands of blocks); `offsets` is
        emptied for the next block. `last`: the previous block's of its kind, the likeliest."""
        if last == offsets:  # one comparison in C, the common case
            offsets.clear()
            return last
        layout = frozenset(offsets.items())
        shared = self.layouts.get(layout)
        if shared is None:
            shared = self.layouts[layout] = MappingProxyType(dict(offsets))
        offsets.clear()
        return shared

    def close_virtual(self) -> None:
        assert self.virtual is not None
        if self.virtual.load_monitor == "agent" and self.virtual.agent_port is None:
            raise self.fail(
                f"virtual {shown(self.virtual.name)}: load_monitor = agent needs agent_port "
                "(the port the real servers' agent answers on)"
            )
        if self.virtual.pmask and not self.virtual.persistent:
            self.warn(
                f"virtual {shown(self.virtual.name)}: pmask without persistent is ignored by pulse (kept)"
            )
        # A server without `port` took the virtual's port as known when its block began. If the
        # virtual's port line came later and differs, make the port the daemons use explicit.
        final = self.virtual.effective_port
        for server in self.virtual.servers:
            at_read = self.server_port_at_read.pop(id(server), final)
            if server.port is None and at_read != final:
                server.port = at_read
                self.warn(
                    f"virtual {shown(self.virtual.name)}: server {shown(server.name)} keeps port {at_read}: "
                    "`port` came after its server block"
                )
        self.virtual.offsets = self.last_virtual = self.shared(
            self.virtual_offsets, self.last_virtual
        )
        self.config.virtuals.append(self.virtual)
        self.virtual = None


def parse(text: str) -> tuple[LvsConfig, list[ParseWarning]]:
    """Parse a whole lvs.cf; raises LvsConfError(line, reason) where the stock parser would fail."""
    return _Parser(text).parse()


__all__ = ["DEFAULT_PORT", "parse"]
