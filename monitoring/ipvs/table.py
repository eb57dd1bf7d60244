"""The IPVS table as plain data: what the configuration wants, and the fewest operations to get
there from what the kernel has. Pure functions: no Django, no pyroute2, no I/O.

Services and destinations are keyed (protocol, address, port / fwmark and address, port), so
applying is a plain diff that ignores counters, as Seesaw does.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypeVar

from monitoring.live.holds import Held, held_weight
from virtualservers.lvsconf.model import (
    DEFAULT_SCHEDULER,
    LvsConfig,
    RealServerRef,
    VirtualServer,
)
from virtualservers.lvsconf.paths import PathCheck, is_path_mark

FORWARD_BY_NETWORK = {"direct": "route", "nat": "masq", "tunnel": "tunnel"}
FORWARD_LABEL = {"route": "Route", "masq": "Masq", "tunnel": "Tunnel", "local": "Local"}
FORWARD_FLAG = {"route": "-g", "masq": "-m", "tunnel": "-i", "local": "-g"}


@functools.lru_cache(maxsize=1 << 16)
def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # Cached: the worker builds the desired table from every real server's address whenever
    # health changes and for every status write, and parsing dominated that at 10,000 servers.
    return ipaddress.ip_address(address)


@functools.lru_cache(maxsize=1 << 16)
def _text(address: str) -> str:
    # An address as the kernel reports it (compressed IPv6...), cached like _ip: str() of an
    # address object builds a new string every time, one per destination of every desired table
    # (the control thread's profile at 10,000 servers), where one string can be shared.
    return str(_ip(address))


@dataclass(frozen=True, order=True, slots=True)
class ServiceKey:
    """An IPVS service: TCP/UDP on address:port, or a firewall mark ("fwm")."""

    protocol: str  # "tcp", "udp" or "fwm"
    address: str = ""
    port: int = 0
    fwmark: int = 0
    family: int = 4  # an fwmark service is per address family too

    @classmethod
    def for_address(cls, protocol: str, address: str, port: int) -> ServiceKey:
        return cls(protocol, _text(address), port, 0, _ip(address).version)

    @classmethod
    def for_fwmark(cls, fwmark: int, family: int = 4) -> ServiceKey:
        return cls("fwm", "", 0, fwmark, family)

    def ipvsadm(self) -> str:
        if self.protocol == "fwm":
            return f"-f {self.fwmark}" + (" -6" if self.family == 6 else "")
        flag = "-t" if self.protocol == "tcp" else "-u"
        return f"{flag} {endpoint(self.address, self.port)}"

    def label(self) -> str:
        if self.protocol == "fwm":  # as ipvsadm -Ln names it, family included
            return f"FWM  {self.fwmark}" + (" IPv6" if self.family == 6 else "")
        return f"{self.protocol.upper()}  {endpoint(self.address, self.port)}"

    @classmethod
    def from_label(cls, label: str) -> ServiceKey:
        """The key `label()` names ("TCP  192.0.2.1:80", "UDP  [2001:db8::1]:53", "FWM  5 IPv6"):
        services kept by their label alone (the worker's table of an older version) keyed again."""
        protocol, _, rest = label.strip().partition(" ")
        rest = rest.strip()
        if protocol.lower() == "fwm":
            mark, _, family = rest.partition(" ")
            return cls.for_fwmark(int(mark), 6 if family.strip() == "IPv6" else 4)
        address, _, port = rest.rpartition(":")
        return cls.for_address(protocol.lower(), address.strip("[]"), int(port))


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class Traffic(NamedTuple):
    """The kernel's counters of a service or a destination since it was added (ipvsadm -Ln
    --stats --exact): what went through it, never what it is configured to be."""

    connections: int
    incoming_packets: int
    outgoing_packets: int
    incoming_bytes: int
    outgoing_bytes: int


class ServiceTraffic(NamedTuple):
    """What a traffic read gives of one service (Driver.traffic): its counters, and each of its
    destinations' by (address, port). Nothing else of the table: /metrics needs only these."""

    totals: Traffic
    destinations: dict[tuple[str, int], Traffic]


TrafficTable = dict[ServiceKey, ServiceTraffic]


@dataclass(frozen=True, slots=True)
class Service:
    key: ServiceKey
    scheduler: str = DEFAULT_SCHEDULER
    persistent: int = 0  # seconds; 0 = not persistent
    netmask: str = ""  # persistence netmask; "" = the default (/32)
    # Read from a netlink dump only (/proc/net/ip_vs has no counters): None when not read. Not
    # compared, so that two reads of the same table are equal while traffic flows.
    traffic: Traffic | None = field(default=None, compare=False)

    def attributes(self) -> tuple[str, int, str]:
        return (self.scheduler, self.persistent, self.netmask if self.persistent else "")


@dataclass(frozen=True, slots=True)
class Destination:
    address: str
    port: int
    forward: str = "route"  # route, masq, tunnel (local is the kernel's own view of route)
    weight: int = 1
    # Counters, read from the kernel; ignored by the diff.
    active_conn: int = 0
    inact_conn: int = 0
    traffic: Traffic | None = field(default=None, compare=False)  # as Service.traffic

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)

    def attributes(self) -> tuple[str, int]:
        # The kernel reports a route destination on a local address as "local".
        return ("route" if self.forward == "local" else self.forward, self.weight)


@dataclass(slots=True)
class ServiceEntry:
    service: Service
    destinations: dict[tuple[str, int], Destination] = field(default_factory=dict)


Table = dict[ServiceKey, ServiceEntry]
_Entry = TypeVar("_Entry", ServiceEntry, ServiceTraffic)  # a table's or a traffic read's


def traffic_of(table: Table) -> TrafficTable:
    """The counters a table's entries carry (read by a netlink dump, or put there by a test),
    as a traffic read gives them; services without counters left out."""
    return {
        key: ServiceTraffic(
            entry.service.traffic,
            {
                dkey: dest.traffic
                for dkey, dest in entry.destinations.items()
                if dest.traffic is not None
            },
        )
        for key, entry in table.items()
        if entry.service.traffic is not None
    }


@dataclass(frozen=True, slots=True)
class Vip:
    address: str
    prefixlen: int
    device: str  # the base device: eth0
    label: str  # Piranha's alias, eth0:1 (the address label); equals device when no alias


@dataclass
class DesiredState:
    table: Table
    vips: list[Vip]
    warnings: list[str]
    nat_router: Vip | None = None


def _prefixlen(netmask: str | None, version: int) -> int:
    if not netmask or version == 6:
        return 32 if version == 4 else 128
    return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen


def _vip(address: str, netmask: str | None, device: str) -> Vip:
    version = _ip(address).version
    base = device.split(":", 1)[0]
    return Vip(_text(address), _prefixlen(netmask, version), base, device)


def service_key(virtual: VirtualServer) -> ServiceKey:
    address = virtual.effective_address
    version = _ip(address).version
    if virtual.effective_fwmark:
        return ServiceKey.for_fwmark(virtual.effective_fwmark, version)
    return ServiceKey.for_address(virtual.effective_protocol, address, virtual.effective_port)


def desired_state(
    config: LvsConfig,
    down: Collection[RealServerRef] = (),
    *,
    held: Held | None = None,
    weights: Mapping[RealServerRef, int] | None = None,
    paths: Iterable[PathCheck] = (),
) -> DesiredState:
    """What the kernel should hold for this configuration, these failed real servers and the
    runtime states (drain, maintenance) operators hold real servers in; `weights` overrides the
    configured weight of servers ramping in (slow start). A held state wins over the ramp.
    `paths` adds the worker's private services of the checks through the forwarding path."""
    held = held or {}
    weights = weights or {}
    table: Table = {}
    vips: dict[str, Vip] = {}
    warnings: list[str] = []
    forward = FORWARD_BY_NETWORK[config.effective_network]
    down_set = set(down)
    for virtual in config.virtuals:
        if not virtual.effective_active:
            continue
        key = service_key(virtual)
        if virtual.address and virtual.device and virtual.address != "0.0.0.0":
            vips.setdefault(
                virtual.address, _vip(virtual.address, virtual.vip_nmask, virtual.device)
            )
        if key in table:
            # lvsd's second `ipvsadm -A` for the same mark failed and it started no nannies for
            # that block: all marked traffic used the first block's servers (piranha.md §5.4).
            # The block's line when the configuration was read from a file (applylvs --config).
            line = virtual.lines.get("name")
            warnings.append(
                f"{f'line {line}: ' if line else ''}virtual {virtual.name}: "
                f"{key.label().strip()} is already defined by an earlier virtual server; this "
                "block adds nothing (as in Piranha)"
            )
            continue
        persistent = virtual.persistent or 0
        pmask = virtual.pmask or ""
        if pmask == "255.255.255.255":  # the stock parser turns this literal into "unset"
            pmask = ""
        entry = ServiceEntry(
            Service(key, virtual.effective_scheduler, persistent, pmask if persistent else "")
        )
        port = virtual.effective_port
        any_up = False
        for server in virtual.servers:
            if not server.effective_active:
                continue
            rport = server.port or port
            address = _text(server.address or "0.0.0.0")
            ref = RealServerRef(virtual.name, server.address or "0.0.0.0", rport)
            weight = held_weight(held.get(ref), weights.get(ref, server.effective_weight))
            if weight is None:  # in maintenance: out, whatever health says
                continue
            if ref in down_set:
                if virtual.quiesce_server:
                    entry.destinations[(address, rport)] = Destination(address, rport, forward, 0)
                continue
            # A drained server takes no new connections: the sorry server counts it as not up.
            any_up = any_up or ref not in held
            entry.destinations[(address, rport)] = Destination(address, rport, forward, weight)
        if virtual.sorry_server and not any_up:
            sorry = _text(virtual.sorry_server)
            entry.destinations[(sorry, port)] = Destination(sorry, port, forward, 1)
        table[key] = entry
    for key, entry in path_services(paths).items():
        table.setdefault(key, entry)  # an operator's service is never replaced
    nat_router = None
    if config.effective_network == "nat" and config.nat_router_ip and config.nat_router_device:
        nat_router = _vip(config.nat_router_ip, config.nat_nmask, config.nat_router_device)
    return DesiredState(table, list(vips.values()), warnings, nat_router)


def path_services(paths: Iterable[PathCheck]) -> Table:
    """The private firewall-mark services of the checks through the forwarding path: one per
    mark, holding only its real server. They stay whatever health says (the path check must go
    on while a real server is out, to see it come back)."""
    table: Table = {}
    for path in paths:
        key = ServiceKey.for_fwmark(path.mark, 4)
        if key in table:  # real servers of several virtual servers share one endpoint's mark
            continue
        entry = ServiceEntry(Service(key, "rr"))
        address = _text(path.address)
        entry.destinations[(address, path.port)] = Destination(address, path.port, path.forward)
        table[key] = entry
    return table


def is_path_service(key: ServiceKey, operators: Collection[ServiceKey] = ()) -> bool:
    """A private service of the path checks: a mark of lvsadmin's range that no virtual server
    of the configuration (`operators`) uses."""
    return key.protocol == "fwm" and is_path_mark(key.fwmark) and key not in operators


def operators_services(
    table: Mapping[ServiceKey, _Entry], operators: Collection[ServiceKey] = ()
) -> dict[ServiceKey, _Entry]:
    """The table without the path checks' private services: what CONTROL, the API and
    /metrics show as the operator's services."""
    return {key: entry for key, entry in table.items() if not is_path_service(key, operators)}


def desired_table(
    config: LvsConfig, down: Collection[RealServerRef] = (), held: Held | None = None
) -> Table:
    return desired_state(config, down, held=held).table


# --- operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One netlink request, printable in ipvsadm's syntax."""

    action: str  # add_service, edit_service, del_service, add_dest, edit_dest, del_dest
    service: Service
    destination: Destination | None = None

    def to_ipvsadm(self) -> str:
        svc = self.service
        if self.action in ("add_service", "edit_service"):
            flag = "-A" if self.action == "add_service" else "-E"
            text = f"{flag} {svc.key.ipvsadm()} -s {svc.scheduler}"
            if svc.persistent:
                text += f" -p {svc.persistent}"
                if svc.netmask:
                    text += f" -M {svc.netmask}"
            return text
        if self.action == "del_service":
            return f"-D {svc.key.ipvsadm()}"
        dest = self.destination
        assert dest is not None
        target = f"{svc.key.ipvsadm()} -r {endpoint(dest.address, dest.port)}"
        if self.action == "del_dest":
            return f"-d {target}"
        flag = "-a" if self.action == "add_dest" else "-e"
        return f"{flag} {target} {FORWARD_FLAG[dest.forward]} -w {dest.weight}"


def diff(current: Table, desired: Table, owned: Collection[ServiceKey] = ()) -> list[Op]:
    """The fewest operations turning `current` into `desired` for the services this tool owns.

    A service in neither `desired` nor `owned` belongs to someone else and is never touched.
    Order keeps traffic flowing: new services and destinations exist before old ones go.
    """
    add_services: list[Op] = []
    edit_services: list[Op] = []
    add_dests: list[Op] = []
    del_dests: list[Op] = []
    del_services: list[Op] = []
    # Drift repair diffs the whole table every few seconds and almost always finds it as it
    # should be: the services that need nothing are passed over first, each in one comparison
    # made in C (1,000 x 10: sorting every service and asking every destination its attributes
    # cost 7-11 ms a time). What is left gets the same ops, in the same order, as before.
    changed = [key for key in desired if not _same_entry(current.get(key), desired[key])]
    for key in sorted(changed):
        want = desired[key]
        have = current.get(key)
        if have is None:
            add_services.append(Op("add_service", want.service))
            add_dests.extend(
                Op("add_dest", want.service, d) for _k, d in sorted(want.destinations.items())
            )
            continue
        if have.service.attributes() != want.service.attributes():
            edit_services.append(Op("edit_service", want.service))
        for dkey, dest in sorted(want.destinations.items()):
            old = have.destinations.get(dkey)
            if old is None:
                add_dests.append(Op("add_dest", want.service, dest))
            elif old.attributes() != dest.attributes():
                # The kernel edits forwarding method and weight in place: one op, no reset.
                add_dests.append(Op("edit_dest", want.service, dest))
        for dkey, old in sorted(have.destinations.items()):
            if dkey not in want.destinations:
                del_dests.append(Op("del_dest", want.service, old))
    owned_set = set(owned)
    for key in sorted(key for key in current if key not in desired and key in owned_set):
        del_services.append(Op("del_service", current[key].service))
    return add_services + add_dests + edit_services + del_dests + del_services


_forward_and_weight = operator.attrgetter("forward", "weight")


def _same_entry(have: ServiceEntry | None, want: ServiceEntry) -> bool:
    """Whether `have` needs no operation to become `want`, when that shows at once: the same
    service attributes and destinations, each with the same forward and weight, whatever the
    counters (what a dump under traffic differs in). False also when it needs none but only the
    whole diff can tell (a kernel's "local" forward for a desired "route")."""
    if have is None or have.service.attributes() != want.service.attributes():
        return False
    theirs, ours = have.destinations, want.destinations
    if theirs.keys() != ours.keys():
        return False
    # map() and attrgetter run in C: no Python frame per destination.
    return list(map(_forward_and_weight, map(theirs.__getitem__, ours))) == list(
        map(_forward_and_weight, ours.values())
    )


def apply_ops(table: Table, ops: Iterable[Op]) -> Table:
    """The table after `ops`, leaving `table` as it was (used by property tests)."""
    result: Table = {k: ServiceEntry(v.service, dict(v.destinations)) for k, v in table.items()}
    for op in ops:
        apply_op(result, op)
    return result


def apply_op(table: Table, op: Op) -> None:
    """Change `table` in place as the kernel would for one operation (the memory driver's
    semantics). An operation the kernel would refuse raises KeyError and changes nothing."""
    key = op.service.key
    if op.action == "add_service":
        if key in table:
            raise KeyError(f"service {key.label()} exists")
        table[key] = ServiceEntry(op.service)
        return
    entry = table.get(key)
    if entry is None:
        raise KeyError(f"no service {key.label()}")
    if op.action == "edit_service":
        entry.service = op.service
    elif op.action == "del_service":
        del table[key]
    else:
        assert op.destination is not None
        dkey = op.destination.key
        old = entry.destinations.get(dkey)
        if op.action == "add_dest":
            if old is not None:
                raise KeyError(f"destination {dkey} exists")
            entry.destinations[dkey] = op.destination
            return
        if old is None:
            raise KeyError(f"no destination {dkey}")
        if op.action == "edit_dest":
            entry.destinations[dkey] = replace(
                op.destination, active_conn=old.active_conn, inact_conn=old.inact_conn
            )
        elif op.action == "del_dest":
            del entry.destinations[dkey]


# --- display ----------------------------------------------------------------------------------


def format_table(table: Table, version: str = "1.2.1", size: int = 4096) -> str:
    """The table as `ipvsadm -Ln` prints it."""
    return format_rows(table_rows(table, {}), version, size)


def format_rows(rows: Iterable[dict], version: str = "1.2.1", size: int = 4096) -> str:
    """Services in table_rows' form (the worker's stored rows) as `ipvsadm -Ln` prints them."""
    lines = [
        f"IP Virtual Server version {version} (size={size})",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]
    for row in rows:
        flags = f" {row['flags']}" if row["flags"] else ""
        lines.append(f"{row['service']} {row['scheduler']}{flags}")
        lines.extend(
            # ipvsadm's own printf: "  -> %-28s %-7s %-6d %-10u %-10u"
            f"  -> {dest['endpoint']:<28} {dest['forward']:<7} "
            f"{dest['weight']:<6} {dest['active']:<10} {dest['inact']:<10}"
            for dest in row["destinations"]
        )
    return "\n".join(lines) + "\n"


def service_flags(service: Service, lead: str = "") -> str:
    """ipvsadm's Flags column: "persistent 300 mask 255.255.255.0", or nothing."""
    if not service.persistent:
        return ""
    text = f"{lead}persistent {service.persistent}"
    return f"{text} mask {service.netmask}" if service.netmask else text


def table_rows(table: Table, virtual_names: dict[ServiceKey, str]) -> list[dict]:
    """The table as plain data for CONTROL/MONITORING (ipvsadm -Ln's columns, in its order), each
    service with the name of the virtual server it belongs to ("" for one made by hand)."""
    rows = []
    for key in sorted(table):
        entry = table[key]
        rows.append(
            {
                "service": key.label(),
                "scheduler": entry.service.scheduler,
                "flags": service_flags(entry.service),
                "virtual": virtual_names.get(key, ""),
                "destinations": [
                    {
                        "endpoint": endpoint(dest.address, dest.port),
                        "address": dest.address,
                        "port": dest.port,
                        "forward": FORWARD_LABEL[dest.forward],
                        "weight": dest.weight,
                        "active": dest.active_conn,
                        "inact": dest.inact_conn,
                    }
                    for _dkey, dest in sorted(entry.destinations.items())
                ],
            }
        )
    return rows
