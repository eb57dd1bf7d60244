"""Writing lvs.cf files for the lab tests, in the stock Piranha GUI's layout (piranha.md 1.7:
globals first, 5-space keys in virtual blocks, 9-space keys in server blocks)."""

from __future__ import annotations

from collections.abc import Iterable

from scripts.testbed.topology import BRIDGE, DIRECTOR_IP, REAL_SERVERS


def server(
    name: str, address: str, *, weight: int = 1, active: int = 1, port: int | None = None
) -> str:
    lines = [
        f"     server {name} {{",
        f"         address = {address}",
        f"         active = {active}",
    ]
    if port is not None:
        lines.append(f"         port = {port}")
    lines += [f"         weight = {weight}", "     }"]
    return "\n".join(lines)


def mysql_servers(
    weights: dict[str, int] | None = None, names: Iterable[str] | None = None
) -> list[str]:
    """Server blocks for the lab's real servers (all of them unless `names`), weight 1 unless
    `weights` says otherwise."""
    weights = weights or {}
    chosen = list(REAL_SERVERS) if names is None else list(names)
    return [server(name, REAL_SERVERS[name], weight=weights.get(name, 1)) for name in chosen]


def virtual(
    name: str,
    *,
    address: str,
    device: str = f"{BRIDGE}:1",
    port: int | None = 3306,
    scheduler: str = "lc",
    protocol: str = "tcp",
    active: int = 1,
    servers: Iterable[str] = (),
    fwmark: int | None = None,
    persistent: int | None = None,
    pmask: str | None = None,
) -> str:
    lines = [f"virtual {name} {{", f"     active = {active}", f"     address = {address} {device}"]
    if fwmark is not None:
        lines.append(f"     fwmark = {fwmark}")
    if port is not None:
        lines.append(f"     port = {port}")
    if persistent is not None:
        lines.append(f"     persistent = {persistent}")
    if pmask is not None:
        lines.append(f"     pmask = {pmask}")
    lines += [
        f"     scheduler = {scheduler}",
        f"     protocol = {protocol}",
        "     timeout = 6",
        "     reentry = 15",
        "     quiesce_server = 0",
        *servers,
        "}",
    ]
    return "\n".join(lines)


def config(
    *virtuals: str, network: str = "direct", nat_router: str | None = None, serial_no: int = 1
) -> str:
    lines = [
        f"serial_no = {serial_no}",
        f"primary = {DIRECTOR_IP}",
        "service = lvs",
        "backup_active = 0",
        f"network = {network}",
    ]
    if nat_router is not None:
        lines.append(f"nat_router = {nat_router}")
    lines.append("debug_level = NONE")
    return "\n".join([*lines, *virtuals]) + "\n"
