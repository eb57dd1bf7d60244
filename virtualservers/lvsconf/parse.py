"""Parse an lvs.cf as piranha 0.8.6's own parser (lvsconfig.c) reads it.

What the stock parser refuses raises LvsConfError with the line number and its reason (in the
stock parser's words, plus a hint). What it accepts but probably does not mean what the author
thinks (CRLF line ends, single quotes, octal-looking numbers, schedulers pulse cannot load) comes
back as ParseWarnings. The grammar and every edge case are in shared/reference/piranha.md §1.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

from virtualservers.lvsconf.model import (
    DEFAULT_PORT,
    NETWORK_TYPES,
    PIRANHA_SCHEDULERS,
    PROTOCOLS,
    SCHEDULERS,
    FailoverService,
    LvsConfError,
    LvsConfig,
    ParseWarning,
    RealServer,
    VirtualServer,
)

# strtol(..., 0): hex, octal (leading zero) or decimal, with an optional sign.
_INT_RE = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$")
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


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.warnings: list[ParseWarning] = []
        self.line_no = 0
        self.config = LvsConfig()
        self.virtual: VirtualServer | None = None
        self.failover: FailoverService | None = None
        self.server: RealServer | None = None
        # The virtual's port as known when each server line was read (piranha.md §1.1 "Order").
        self.server_port_at_read: dict[int, int] = {}

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
        if not _INT_RE.match(word):
            raise self.fail(f"integer expected, got {word!r}")
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
            raise self.fail(f"boolean expected (0 or 1), got {word!r}")
        return word == "1"

    def address(self, word: str) -> str:
        self.no_zone_id(word)
        try:
            return str(ipaddress.ip_address(word))
        except ValueError:
            pass
        if _HOSTNAME_RE.match(word) and not word.replace(".", "").isdigit():
            self.warn(
                f"{word} is a host name: it is resolved when the daemons start; prefer an address"
            )
            return word
        raise self.fail(f"invalid host name or ip address: {word!r}")

    def no_zone_id(self, word: str) -> None:
        # IPVS has no use for an IPv6 zone id, and a sending program would get it through %h.
        if "%" in word:
            raise self.fail(f"invalid address {word!r}: an IPv6 zone id (%...) is not allowed")

    def dotted_ip(self, word: str) -> str:
        self.no_zone_id(word)
        try:
            return str(ipaddress.ip_address(word))
        except ValueError:
            raise self.fail(
                f"invalid host name or ip address: {word!r} (an address is required here)"
            ) from None

    def netmask(self, word: str) -> str:
        try:
            if "." not in word:
                raise ValueError
            ipaddress.IPv4Network(f"0.0.0.0/{word}")
        except ValueError:
            raise self.fail(f"Bad subnet mask specified: {word!r}") from None
        return word

    def port(self, word: str) -> int:
        if _INT_RE.match(word):
            value = self.integer(word)
        else:
            try:
                value = socket.getservbyname(word, "tcp")
            except OSError:
                if word not in _FALLBACK_SERVICES:
                    raise self.fail(
                        f"invalid argument: {word!r} is not a port number or service name"
                    ) from None
                value = _FALLBACK_SERVICES[word]
        if not 0 < value < 65536:
            raise self.fail(f"invalid argument: port {value} is outside 1-65535")
        return value

    def choice(self, options: tuple[str, ...]) -> Callable[[str], str]:
        def check(word: str) -> str:
            if word not in options:
                raise self.fail(
                    f"invalid argument: {word!r} (expected one of {', '.join(options)})"
                )
            return word

        return check

    def quoted(self, word: str) -> str:
        if len(word) >= 2 and word[0] == word[-1] == '"':
            return word[1:-1]
        if len(word) >= 2 and word[0] == word[-1] == "'":
            self.warn(
                f"single quotes are kept by piranha: the value is {word} including the quotes; use double quotes"
            )
        return word

    @staticmethod
    def word(word: str) -> str:
        return word

    # --- lines ---------------------------------------------------------------------------------
    def parse(self) -> tuple[LvsConfig, list[ParseWarning]]:
        lines = self.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        crlf_warned = False
        saw_anything = False
        for self.line_no, raw in enumerate(lines, start=1):
            line = raw
            if line.endswith("\r"):
                line = line[:-1]
                if not crlf_warned:
                    self.warn(
                        "CRLF line ends: piranha 0.8.6 silently skips lines in such a file; lvsadmin writes LF only"
                    )
                    crlf_warned = True
            stripped = line.lstrip(" \t")
            if not stripped or stripped.startswith("#"):
                continue
            saw_anything = True
            self.line(self.tokenize(stripped))
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

    def line(self, tokens: list[str]) -> None:
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
            table, target = _SERVER_KEYS, self.server
        elif self.virtual is not None:
            table, target = _VIRTUAL_KEYS, self.virtual
        elif self.failover is not None:
            self.failover_line(tokens)
            return
        else:
            table, target = _GLOBAL_KEYS, self.config
        spec = table.get(head)
        if spec is None:
            where = (
                "a server block"
                if self.server
                else "a virtual block"
                if self.virtual
                else "the global section"
            )
            raise self.fail(f"unknown command: {head!r} is not a key of {where}")
        if len(tokens) < 2 or tokens[1] != "=":
            raise self.fail("equal (=) expected after command")
        values = tokens[2:]
        attr, count, kind = spec
        if len(values) < count:
            raise self.fail(
                f"missing arguments: {head} takes {count} value{'s' if count > 1 else ''}"
            )
        if len(values) > count:
            hint = (
                " (inline comments are not allowed)"
                if any(v.startswith("#") for v in values)
                else ""
            )
            raise self.fail(f"unexpected arguments after {head} = {values[0]}{hint}")
        self.assign(target, attr, kind, values)

    def assign(self, target: object, attr: str, kind: str, values: list[str]) -> None:
        if kind == "pair":  # address = IP DEVICE, nat_router = IP DEVICE
            ip_attr, device_attr = attr.split("|")
            setattr(target, ip_attr, self.address(values[0]))
            setattr(target, device_attr, values[1])
            return
        value = self.converters[kind](values[0])
        setattr(target, attr, value)

    @property
    def converters(self) -> dict[str, Callable[[str], object]]:
        # Built once per parser: assign() runs for every line of a large file.
        cached = self.__dict__.get("_converters")
        if cached is not None:
            return cached
        converters: dict[str, Callable[[str], object]] = {
            "int": self.integer,
            "bool": self.boolean,
            "intbool": self.int_boolean,
            "ip": self.address,
            "dotted": self.dotted_ip,
            "mask": self.netmask,
            "port": self.port,
            "rport": self.real_port,
            "quoted": self.quoted,
            "word": self.word,
            "protocol": self.choice(PROTOCOLS),
            "network": self.choice(NETWORK_TYPES),
            "service": self.choice(("lvs", "fos")),
            "scheduler": self.scheduler,
        }
        self.__dict__["_converters"] = converters
        return converters

    def int_boolean(self, word: str) -> bool:
        value = self.integer(word)
        if value not in (0, 1):
            self.warn(f"{word} read as {'on' if value else 'off'}: expected 0 or 1")
        return bool(value)

    def real_port(self, word: str) -> int:
        value = self.integer(word)  # real-server ports take no service names
        if not 0 < value < 65536:
            raise self.fail(f"invalid argument: port {value} is outside 1-65535")
        return value

    def scheduler(self, word: str) -> str:
        if word not in SCHEDULERS:
            raise self.fail(
                f"invalid argument: scheduler {word!r} (expected one of {', '.join(SCHEDULERS)})"
            )
        if word not in PIRANHA_SCHEDULERS:
            self.warn(f"scheduler {word} works with lvsadmin, but a stock piranha pulse refuses it")
        return word

    def failover_line(self, tokens: list[str]) -> None:
        assert self.failover is not None
        if len(tokens) < 2 or tokens[1] != "=":
            raise self.fail("equal (=) expected after command")
        if len(tokens) < 3:
            raise self.fail(f"missing arguments: {tokens[0]} takes a value")
        self.failover.items.append((tokens[0], " ".join(tokens[2:])))

    # --- blocks --------------------------------------------------------------------------------
    def open_block(self, kind: str, name: str) -> None:
        if kind == "server":
            if self.virtual is None:
                raise self.fail("server blocks belong inside a virtual block")
            if self.server is not None:
                raise self.fail("a server block cannot contain another block")
            self.server = RealServer(name=name)
            self.server_port_at_read[id(self.server)] = self.virtual.effective_port
            return
        if self.virtual is not None or self.failover is not None:
            raise self.fail(f"a {kind} block cannot be opened inside another block")
        if kind == "virtual":
            self.virtual = VirtualServer(name=name)
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
        self.virtual.servers.append(self.server)
        self.server = None

    def close_virtual(self) -> None:
        assert self.virtual is not None
        # A server without `port` took the virtual's port as known when its block began. If the
        # virtual's port line came later and differs, make the port the daemons use explicit.
        final = self.virtual.effective_port
        for server in self.virtual.servers:
            at_read = self.server_port_at_read.pop(id(server), final)
            if server.port is None and at_read != final:
                server.port = at_read
                self.warn(
                    f"virtual {self.virtual.name}: server {server.name} keeps port {at_read}: "
                    "`port` came after its server block"
                )
        self.config.virtuals.append(self.virtual)
        self.virtual = None


# key -> (attribute, number of values, kind)
_GLOBAL_KEYS: dict[str, tuple[str, int, str]] = {
    "serial_no": ("serial_no", 1, "int"),
    "primary": ("primary", 1, "ip"),
    "primary_private": ("primary_private", 1, "ip"),
    "primary_shared": ("primary_shared", 1, "word"),
    "service": ("service", 1, "service"),
    "rsh_command": ("rsh_command", 1, "word"),
    "backup_active": ("backup_active", 1, "bool"),
    "backup": ("backup", 1, "ip"),
    "backup_private": ("backup_private", 1, "ip"),
    "backup_shared": ("backup_shared", 1, "word"),
    "heartbeat": ("heartbeat", 1, "bool"),
    "heartbeat_port": ("heartbeat_port", 1, "port"),
    "keepalive": ("keepalive", 1, "int"),
    "deadtime": ("deadtime", 1, "int"),
    "network": ("network", 1, "network"),
    "nat_router": ("nat_router_ip|nat_router_device", 2, "pair"),
    "nat_nmask": ("nat_nmask", 1, "mask"),
    "reservation_conflict_action": ("reservation_conflict_action", 1, "word"),
    "debug_level": ("debug_level", 1, "word"),
    "monitor_links": ("monitor_links", 1, "intbool"),
    "syncdaemon": ("syncdaemon", 1, "bool"),
    "syncd_iface": ("syncd_iface", 1, "word"),
    "syncd_id": ("syncd_id", 1, "int"),
    "tcp_timeout": ("tcp_timeout", 1, "int"),
    "tcpfin_timeout": ("tcpfin_timeout", 1, "int"),
    "udp_timeout": ("udp_timeout", 1, "int"),
    "hard_shutdown": ("hard_shutdown", 1, "bool"),
    "active_cmd": ("active_cmd", 1, "quoted"),
    "inactive_cmd": ("inactive_cmd", 1, "quoted"),
    "ipvsadm": ("ipvsadm", 1, "word"),
    "sync": ("sync", 1, "bool"),
}

_VIRTUAL_KEYS: dict[str, tuple[str, int, str]] = {
    "active": ("active", 1, "bool"),
    "address": ("address|device", 2, "pair"),
    "sorry_server": ("sorry_server", 1, "dotted"),
    "vip_nmask": ("vip_nmask", 1, "mask"),
    "fwmark": ("fwmark", 1, "int"),
    "port": ("port", 1, "port"),
    "persistent": ("persistent", 1, "int"),
    "pmask": ("pmask", 1, "mask"),
    "send": ("send", 1, "quoted"),
    "expect": ("expect", 1, "quoted"),
    "use_regex": ("use_regex", 1, "bool"),
    "send_program": ("send_program", 1, "quoted"),
    "load_monitor": ("load_monitor", 1, "word"),
    "scheduler": ("scheduler", 1, "scheduler"),
    "protocol": ("protocol", 1, "protocol"),
    "timeout": ("timeout", 1, "int"),
    "reentry": ("reentry", 1, "int"),
    "quiesce_server": ("quiesce_server", 1, "bool"),
    "client_monitor": ("client_monitor", 1, "word"),
}

_SERVER_KEYS: dict[str, tuple[str, int, str]] = {
    "address": ("address", 1, "ip"),
    "active": ("active", 1, "bool"),
    "port": ("port", 1, "rport"),
    "weight": ("weight", 1, "int"),
}


def parse(text: str) -> tuple[LvsConfig, list[ParseWarning]]:
    """Parse a whole lvs.cf; raises LvsConfError(line, reason) where the stock parser would fail."""
    return _Parser(text).parse()


__all__ = ["DEFAULT_PORT", "parse"]
