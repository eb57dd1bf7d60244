"""Render an LvsConfig in piranha-gui's exact layout.

Key order, 5- and 9-space indents, double-quoted strings and LF line ends are those of the stock
GUI (piranha.md §1.7), so that a diff against a file piranha-gui wrote shows only real changes.
Absent (None) fields are not written; booleans are 0/1.
"""

from __future__ import annotations

from virtualservers.lvsconf.model import FailoverService, LvsConfig, RealServer, VirtualServer

# (key, attribute, kind) in the order piranha-gui writes them; kinds: int, bool, word, quoted.
_GLOBAL_KEYS: tuple[tuple[str, str, str], ...] = (
    ("serial_no", "serial_no", "int"),
    ("primary", "primary", "word"),
    ("primary_private", "primary_private", "word"),
    ("primary_shared", "primary_shared", "word"),
    ("service", "service", "word"),
    ("rsh_command", "rsh_command", "word"),
    ("backup_active", "backup_active", "bool"),
    ("backup", "backup", "word"),
    ("backup_private", "backup_private", "word"),
    ("backup_shared", "backup_shared", "word"),
    ("heartbeat", "heartbeat", "bool"),
    ("heartbeat_port", "heartbeat_port", "int"),
    ("keepalive", "keepalive", "int"),
    ("deadtime", "deadtime", "int"),
    ("network", "network", "word"),
    ("nat_router", "nat_router_ip", "nat_router"),
    ("nat_nmask", "nat_nmask", "word"),
    ("reservation_conflict_action", "reservation_conflict_action", "word"),
    ("debug_level", "debug_level", "word"),
    ("monitor_links", "monitor_links", "bool"),
    ("syncdaemon", "syncdaemon", "bool"),
    ("syncd_iface", "syncd_iface", "word"),
    ("syncd_id", "syncd_id", "int"),
    ("tcp_timeout", "tcp_timeout", "int"),
    ("tcpfin_timeout", "tcpfin_timeout", "int"),
    ("udp_timeout", "udp_timeout", "int"),
    ("hard_shutdown", "hard_shutdown", "bool"),
    ("active_cmd", "active_cmd", "command"),
    ("inactive_cmd", "inactive_cmd", "command"),
    ("ipvsadm", "ipvsadm", "word"),
    ("sync", "sync", "bool"),
)

_VIRTUAL_KEYS: tuple[tuple[str, str, str], ...] = (
    ("active", "active", "bool"),
    ("address", "address", "address"),
    ("sorry_server", "sorry_server", "word"),
    ("vip_nmask", "vip_nmask", "word"),
    ("fwmark", "fwmark", "int"),
    ("port", "port", "int"),
    ("persistent", "persistent", "int"),
    ("pmask", "pmask", "word"),
    ("send", "send", "quoted"),
    ("expect", "expect", "quoted"),
    ("use_regex", "use_regex", "bool"),
    ("send_program", "send_program", "quoted"),
    ("load_monitor", "load_monitor", "word"),
    ("scheduler", "scheduler", "word"),
    ("protocol", "protocol", "word"),
    ("timeout", "timeout", "int"),
    ("reentry", "reentry", "int"),
    ("quiesce_server", "quiesce_server", "bool"),
    ("client_monitor", "client_monitor", "word"),
)

_SERVER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("address", "address", "word"),
    ("active", "active", "bool"),
    ("port", "port", "int"),
    ("weight", "weight", "int"),
)

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


def _lines(
    obj: object, keys: tuple[tuple[str, str, str], ...], indent: str, where: str
) -> list[str]:
    out: list[str] = []
    for key, attr, kind in keys:
        value = getattr(obj, attr)
        if value is None:
            continue
        here = f"{where} {key}"
        if kind == "bool":
            text = "1" if value else "0"
        elif kind == "int":
            text = str(int(value))
        elif kind == "quoted":
            text = _quote(value, here)
        elif kind == "command":
            # active_cmd / inactive_cmd: pulse splits them on blanks itself; quoting a command
            # with arguments keeps it one token for the parser.
            text = value if " " not in value and "\t" not in value else _quote(value, here)
        elif kind == "address":
            device = getattr(obj, "device", None)
            text = _word(value, here) + (f" {_word(device, here)}" if device else "")
        elif kind == "nat_router":
            device = getattr(obj, "nat_router_device", None)
            text = _word(value, here) + (f" {_word(device, here)}" if device else "")
        else:
            text = _word(str(value), here)
        out.append(f"{indent}{key} = {text}")
    return out


def _render_server(server: RealServer, virtual: str) -> list[str]:
    where = f"virtual {virtual} server {server.name}"
    lines = [f"{VIRTUAL_INDENT}server {_word(server.name, where)} {{"]
    lines += _lines(server, _SERVER_KEYS, SERVER_INDENT, where)
    lines.append(f"{VIRTUAL_INDENT}}}")
    return lines


def _render_virtual(virtual: VirtualServer) -> list[str]:
    where = f"virtual {virtual.name}"
    lines = [f"virtual {_word(virtual.name, where)} {{"]
    lines += _lines(virtual, _VIRTUAL_KEYS, VIRTUAL_INDENT, where)
    for server in virtual.servers:
        lines += _render_server(server, virtual.name)
    lines.append("}")
    return lines


def _render_failover(failover: FailoverService) -> list[str]:
    lines = [f"failover {_word(failover.name, 'failover')} {{"]
    lines += [f"{VIRTUAL_INDENT}{key} = {raw}" for key, raw in failover.items]
    lines.append("}")
    return lines


def render(config: LvsConfig) -> str:
    """The whole file, LF line ends, ending with a newline."""
    lines = _lines(config, _GLOBAL_KEYS, "", "global")
    for failover in config.failovers:
        lines += _render_failover(failover)
    for virtual in config.virtuals:
        lines += _render_virtual(virtual)
    return "\n".join(lines) + "\n"
