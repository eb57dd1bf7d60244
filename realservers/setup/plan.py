"""What each real server needs, worked out from a parsed lvs.cf: which hosts, which VIPs each
must accept, how (the forwarding method, the ARP suppression method), and the MySQL monitoring
accounts. Django-free: plain data in (an LvsConfig, names, the MySQL checks' users), plain data
out; render.py turns a plan into the script, the systemd unit and the SQL.

The plan is per host (a real server's address), not per `server` block: one machine may serve
several virtual servers, and the one script installed on it must carry every VIP it serves, or
installing the script of one virtual would drop the others' VIPs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer

# How a real server keeps quiet about the VIPs on ARP (direct routing and tunnelling).
ARP_SYSCTL = "sysctl"  # arp_ignore=1 / arp_announce=2: nothing to install, the common way
ARP_ARPTABLES = "arptables"  # the guide's (and RHEL 5/6's) way
ARP_NFTABLES = "nftables"  # the arp family of nftables, which replaces arptables
ARP_METHODS = (ARP_SYSCTL, ARP_ARPTABLES, ARP_NFTABLES)
DEFAULT_ARP_METHOD = ARP_SYSCTL

FORMATS = ("script", "unit", "sql")
INSTALL_PATH = "/usr/local/sbin/lvsadmin-realserver"
UNIT_NAME = "lvsadmin-realserver.service"
SQL_NAME = "lvsadmin-monitoring-account.sql"
# The password is never printed (a product rule: secrets are never shown back); the operator
# types the one stored in MONITORING SCRIPTS in its place.
PASSWORD_PLACEHOLDER = "REPLACE-WITH-THE-CHECK-PASSWORD"
# The guide's mysql_mon.sh has its user in the script, not in lvsadmin: a name to replace.
USER_PLACEHOLDER = "lvsmon"
MYSQL_PORT = 3306
_UNSPECIFIED = {"", "0.0.0.0", "::"}


class SetupError(ValueError):
    """The set-up cannot be generated; the message says why, for a page or a command line."""


@dataclass(frozen=True)
class MysqlCheck:
    """A virtual server's built-in MySQL check, as far as the set-up needs it (never its
    password). From the draft's MONITORING SCRIPTS: lvs.cf does not carry these."""

    user: str
    database: str = ""


@dataclass(frozen=True)
class Host:
    """One real server machine: its own address, the `VIRTUAL/REAL` names it has, and the VIPs
    it must accept (in lvs.cf order, no repeats)."""

    address: str
    names: tuple[str, ...]
    vips: tuple[str, ...]


@dataclass(frozen=True)
class MysqlAccount:
    """One account to create on the real servers, for the checks of `virtuals`."""

    user: str
    virtuals: tuple[str, ...]
    databases: tuple[str, ...]
    placeholder_user: bool  # the user is a name to replace (the guide's script keeps its own)


@dataclass(frozen=True)
class SetupPlan:
    serial: int | None
    network: str  # direct | tunnel | nat
    arp: str
    nat_router: str | None
    hosts: tuple[Host, ...]
    directors: tuple[str, ...]
    accounts: tuple[MysqlAccount, ...]
    notes: tuple[str, ...]

    @property
    def title(self) -> str:
        return ", ".join(f"{h.address} ({', '.join(h.names)})" for h in self.hosts)


def servers_named(config: LvsConfig, name: str) -> list[tuple[VirtualServer, RealServer]]:
    """The `server` blocks a name designates: `VIRTUAL/REAL`, a real server's name (in any
    virtual), or a real server's address."""
    virtual_name, slash, real_name = name.partition("/")
    found = []
    for virtual in config.virtuals:
        if slash and virtual.name != virtual_name:
            continue
        wanted = real_name if slash else name
        for server in virtual.servers:
            if wanted in (server.name, server.address):
                found.append((virtual, server))
    if not found:
        raise SetupError(f"no real server {name!r} in the published lvs.cf")
    return found


def virtual_named(config: LvsConfig, name: str) -> VirtualServer:
    for virtual in config.virtuals:
        if virtual.name == name:
            return virtual
    raise SetupError(f"no virtual server {name!r} in the published lvs.cf")


def plan_for_servers(
    config: LvsConfig,
    servers: Iterable[RealServer],
    *,
    arp: str = DEFAULT_ARP_METHOD,
    mysql_checks: Mapping[str, MysqlCheck] | None = None,
) -> SetupPlan:
    """The set-up of the hosts of `servers` (each host with every VIP it serves in `config`)."""
    if arp not in ARP_METHODS:
        raise SetupError(f"unknown ARP method {arp!r}: one of {', '.join(ARP_METHODS)}")
    network = config.effective_network
    notes: list[str] = []
    addresses = _unique(
        _checked_ip(s.address or "", f"real server {s.name}")
        for s in servers
        if (s.address or "") not in _UNSPECIFIED
    )
    if not addresses:
        raise SetupError("these real servers have no address in the published lvs.cf")
    hosts = []
    served: list[VirtualServer] = []
    for address in addresses:
        names, vips = [], []
        for virtual in config.virtuals:
            mine = [s for s in virtual.servers if s.address == address]
            if not mine:
                continue
            served.append(virtual)
            names.extend(f"{virtual.name}/{s.name}" for s in mine)
            vip = virtual.effective_address
            if vip in _UNSPECIFIED:
                notes.append(f"virtual server {virtual.name} has no VIP: nothing to set up for it")
                continue
            vip = _checked_ip(vip, f"virtual server {virtual.name}")
            if network == "tunnel" and ipaddress.ip_address(vip).version == 6:
                # IPv6 over IPv4 tunnelling needs ip6tnl, which nothing here sets up.
                notes.append(
                    f"{vip} (virtual server {virtual.name}) is IPv6: set up ip6tnl by hand"
                )
                continue
            vips.append(vip)
        hosts.append(Host(address, tuple(names), tuple(_unique(vips))))
    nat_router = config.nat_router_ip or None
    if network == "nat" and nat_router is None:
        notes.append("network is nat but lvs.cf has no nat_router: the gateway cannot be checked")
    if network in ("direct", "tunnel") and arp != ARP_SYSCTL:
        if any(ipaddress.ip_address(v).version == 6 for h in hosts for v in h.vips):
            notes.append(
                "IPv6 has no ARP: an IPv6 VIP on lo is not announced (neighbour discovery "
                "answers only for the receiving interface's addresses)"
            )
    return SetupPlan(
        serial=config.serial_no,
        network=network,
        arp=arp,
        nat_router=nat_router,
        hosts=tuple(hosts),
        directors=directors(config),
        accounts=_accounts(_unique_virtuals(served), mysql_checks or {}),
        notes=tuple(_unique(notes)),
    )


def plan_for_real(
    config: LvsConfig,
    name: str,
    *,
    arp: str = DEFAULT_ARP_METHOD,
    mysql_checks: Mapping[str, MysqlCheck] | None = None,
) -> SetupPlan:
    """The set-up of the real server `name` (see servers_named)."""
    servers = [server for _virtual, server in servers_named(config, name)]
    return plan_for_servers(config, servers, arp=arp, mysql_checks=mysql_checks)


def plan_for_virtual(
    config: LvsConfig,
    name: str,
    *,
    arp: str = DEFAULT_ARP_METHOD,
    mysql_checks: Mapping[str, MysqlCheck] | None = None,
) -> SetupPlan:
    """The set-up of every real server of the virtual server `name`: one script that works on
    each of them (it finds which one it runs on by the addresses the host carries)."""
    virtual = virtual_named(config, name)
    if not virtual.servers:
        raise SetupError(f"virtual server {name!r} has no real servers in the published lvs.cf")
    return plan_for_servers(config, virtual.servers, arp=arp, mysql_checks=mysql_checks)


def directors(config: LvsConfig) -> tuple[str, ...]:
    """The addresses a director's checks may come from: the primary's and the backup's public
    and private addresses (a NAT director reaches its real servers by the private one)."""
    found = []
    backup = [config.backup, config.backup_private] if config.backup_active else []
    for address in (config.primary, config.primary_private, *backup):
        if address and address not in _UNSPECIFIED:
            found.append(_checked_ip(address, "director"))
    return tuple(_unique(found))


def _accounts(
    virtuals: list[VirtualServer], checks: Mapping[str, MysqlCheck]
) -> tuple[MysqlAccount, ...]:
    """One account per user: the built-in check's user, or, for a virtual that looks like the
    guide's MySQL service (port 3306, or a sending program named mysql...), a name to replace."""
    by_user: dict[str, tuple[list[str], list[str], bool]] = {}
    for virtual in virtuals:
        check = checks.get(virtual.name)
        if check is not None and check.user:
            user, placeholder = check.user, False
        elif virtual.effective_port == MYSQL_PORT or "mysql" in (virtual.send_program or ""):
            user, placeholder = USER_PLACEHOLDER, True
        else:
            continue
        names, databases, _placeholder = by_user.setdefault(user, ([], [], placeholder))
        names.append(virtual.name)
        if check is not None and check.database:
            databases.append(check.database)
    return tuple(
        MysqlAccount(user, tuple(names), tuple(_unique(dbs)), placeholder)
        for user, (names, dbs, placeholder) in by_user.items()
    )


def _checked_ip(value: str, what: str) -> str:
    """The address, canonical. Everything written into the script comes through here (or is a
    fixed word), so no lvs.cf value can carry shell syntax into it."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise SetupError(f"{what}: {value!r} is not an IP address") from None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_virtuals(virtuals: list[VirtualServer]) -> list[VirtualServer]:
    seen: dict[str, VirtualServer] = {}
    for virtual in virtuals:
        seen.setdefault(virtual.name, virtual)
    return list(seen.values())
