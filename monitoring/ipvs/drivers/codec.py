"""The IPVS generic-netlink vocabulary (linux/ip_vs.h): its commands and attributes, packing
services, destinations and table operations into request payloads, and parsing the services and
destinations of a dump. Plain bytes in and out; ipvs_netlink.py does the talking.

A dump's services and destinations carry the kernel's traffic counters (table.Traffic) from
the nested STATS64 attribute (u64 values), or from STATS where a kernel has no STATS64 (before
4.1; there connections and packets are u32, bytes u64): each value is read by its attribute's
length, which also skips the PAD attributes some architectures put before a u64.

The packing is the hot path of a full load (one request per destination), and the destination
parser that of a netlink dump, so both avoid per-attribute allocations: a service's key attributes
are packed once per key, a destination's address attributes are cached, its fixed settings are
packed by one struct, and the destination parser is a tight loop rather than walk_attrs().
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import socket
import struct
from collections.abc import Iterable
from typing import NamedTuple

from monitoring.ipvs.drivers.base import SyncDaemon
from monitoring.ipvs.drivers.netlink import BE16, NLA, NLA_F_NESTED, U16, U32, pack_attr, walk_attrs
from monitoring.ipvs.table import Destination, Op, Service, ServiceKey, Traffic
from virtualservers.lvsconf.model import DEFAULT_SCHEDULER

# linux/ip_vs.h
IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_SERVICE, IPVS_CMD_DEL_SERVICE, IPVS_CMD_GET_SERVICE = 1, 2, 3, 4
IPVS_CMD_NEW_DEST, IPVS_CMD_SET_DEST, IPVS_CMD_DEL_DEST, IPVS_CMD_GET_DEST = 5, 6, 7, 8
IPVS_CMD_SET_CONFIG, IPVS_CMD_GET_CONFIG, IPVS_CMD_GET_INFO = 12, 13, 15
IPVS_CMD_ATTR_SERVICE, IPVS_CMD_ATTR_DEST = 1, 2
IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, IPVS_CMD_ATTR_TIMEOUT_UDP = 4, 5, 6
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED = 1, 2, 3, 4, 5, 6
SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK, SVC_STATS, SVC_STATS64 = 7, 8, 9, 10, 12
DEST_ADDR, DEST_PORT, DEST_FWD, DEST_WEIGHT, DEST_UTHRESH, DEST_LTHRESH = 1, 2, 3, 4, 5, 6
DEST_ACTIVE, DEST_INACT, DEST_PERSIST, DEST_STATS, DEST_AF, DEST_STATS64 = 7, 8, 9, 10, 11, 12
# Inside SVC_STATS(64) and DEST_STATS(64): the five totals, in Traffic's order; then rates (6-10)
# and PAD (11), which are not read.
STATS_CONNS, STATS_OUTBYTES = 1, 5
IPVS_INFO_ATTR_VERSION, IPVS_INFO_ATTR_CONN_TAB_SIZE = 1, 2
IP_VS_SVC_F_PERSISTENT = 0x1
IPVS_CMD_NEW_DAEMON, IPVS_CMD_DEL_DAEMON, IPVS_CMD_GET_DAEMON = 9, 10, 11
IPVS_CMD_ATTR_DAEMON = 3
DAEMON_STATE, DAEMON_MCAST_IFN, DAEMON_SYNC_ID = 1, 2, 3
SYNC_STATE_CODE = {"master": 1, "backup": 2}

FWD_CODE = {"masq": 0, "local": 1, "tunnel": 2, "route": 3}
FWD_NAME = {0: "masq", 1: "local", 2: "tunnel", 3: "route"}
PROTO_CODE = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "fwm": 0}
PROTO_NAME = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp"}
FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}


def in6(address: str) -> bytes:
    """An address as IPVS carries it: 16 bytes, an IPv4 address padded with zeros."""
    packed = socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    return packed + b"\0" * (16 - len(packed))


def addr_from(raw: bytes, family: int) -> str:
    # inet_ntop is several times faster than ipaddress here, which matters for large dumps.
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


class ServiceCodec:
    """Packs service keys and attributes; caches the key part since it repeats in every dest op."""

    def __init__(self) -> None:
        self._keys: dict[ServiceKey, bytes] = {}

    def key_attrs(self, key: ServiceKey) -> bytes:
        packed = self._keys.get(key)
        if packed is None:
            family = FAMILY[key.family]
            if key.protocol == "fwm":
                packed = pack_attr(SVC_AF, U16.pack(family)) + pack_attr(
                    SVC_FWMARK, U32.pack(key.fwmark)
                )
            else:
                packed = (
                    pack_attr(SVC_AF, U16.pack(family))
                    + pack_attr(SVC_PROTOCOL, U16.pack(PROTO_CODE[key.protocol]))
                    + pack_attr(SVC_ADDR, in6(key.address))
                    + pack_attr(SVC_PORT, BE16.pack(key.port))
                )
            self._keys[key] = packed
        return packed

    def full(self, service: Service) -> bytes:
        key = service.key
        flags = IP_VS_SVC_F_PERSISTENT if service.persistent else 0
        if key.family == 6:
            netmask = U32.pack(128)
        elif service.persistent and service.netmask:
            netmask = ipaddress.IPv4Address(service.netmask).packed
        else:
            netmask = b"\xff\xff\xff\xff"
        body = (
            self.key_attrs(key)
            + pack_attr(SVC_SCHED, service.scheduler.encode() + b"\0")
            + pack_attr(SVC_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF))
            + pack_attr(SVC_TIMEOUT, U32.pack(service.persistent))
            + pack_attr(SVC_NETMASK, netmask)
        )
        return pack_attr(IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, body)

    def key_only(self, key: ServiceKey) -> bytes:
        return pack_attr(IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, self.key_attrs(key))

    def requests(self, ops: Iterable[Op]) -> list[tuple[int, bytes, Op | None]]:
        """(command, payload, op) of each operation, in order, for GenericNetlink.batch."""
        requests: list[tuple[int, bytes, Op | None]] = []
        for op in ops:
            svc = op.service
            if op.action == "add_service":
                requests.append((IPVS_CMD_NEW_SERVICE, self.full(svc), op))
            elif op.action == "edit_service":
                requests.append((IPVS_CMD_SET_SERVICE, self.full(svc), op))
            elif op.action == "del_service":
                requests.append((IPVS_CMD_DEL_SERVICE, self.key_only(svc.key), op))
            else:
                assert op.destination is not None
                full = op.action != "del_dest"
                cmd = {
                    "add_dest": IPVS_CMD_NEW_DEST,
                    "edit_dest": IPVS_CMD_SET_DEST,
                    "del_dest": IPVS_CMD_DEL_DEST,
                }[op.action]
                requests.append(
                    (
                        cmd,
                        self.key_only(svc.key) + dest_attrs(op.destination, svc.key.family, full),
                        op,
                    )
                )
        return requests


# The fixed part of a destination's attributes after its address and port: forwarding method,
# weight, upper and lower thresholds, each a 4-byte attribute (8 bytes with its header).
_DEST_SETTINGS = struct.Struct("=HHIHHIHHIHHI")


@functools.lru_cache(maxsize=1 << 16)
def _dest_address_attrs(address: str) -> tuple[bytes, bytes]:
    """(address attribute, address-family attribute) of a destination; cached, since a full
    load packs one per destination and the same few thousand addresses recur."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return pack_attr(DEST_ADDR, in6(address)), pack_attr(DEST_AF, U16.pack(family))


def dest_attrs(dest: Destination, family: int, full: bool) -> bytes:
    address, address_family = _dest_address_attrs(dest.address)
    port = pack_attr(DEST_PORT, BE16.pack(dest.port))
    if not full:
        body = address + port + address_family
    else:
        settings = _DEST_SETTINGS.pack(
            8, DEST_FWD, FWD_CODE[dest.forward],
            8, DEST_WEIGHT, dest.weight,
            8, DEST_UTHRESH, 0,
            8, DEST_LTHRESH, 0,
        )  # fmt: skip
        body = address + port + settings + address_family
    return NLA.pack(4 + len(body), IPVS_CMD_ATTR_DEST | NLA_F_NESTED) + body


def timeouts_payload(tcp: int, tcpfin: int, udp: int) -> bytes:
    """IPVS_CMD_SET_CONFIG's attributes; 0 leaves that timeout as the kernel has it."""
    return (
        pack_attr(IPVS_CMD_ATTR_TIMEOUT_TCP, U32.pack(tcp))
        + pack_attr(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, U32.pack(tcpfin))
        + pack_attr(IPVS_CMD_ATTR_TIMEOUT_UDP, U32.pack(udp))
    )


_U64 = struct.Struct("=Q")
# STATS64's first five attributes as x86 and most kernels write them: unpadded u64s, 1 to 5.
_STATS64_HEAD = struct.Struct("=HHQHHQHHQHHQHHQ")
_STATS64_LENGTHS, _STATS64_KINDS = (12, 12, 12, 12, 12), (1, 2, 3, 4, 5)


def parse_traffic(data: bytes, start: int, end: int) -> Traffic:
    """The five totals of a nested STATS or STATS64 attribute's body (absent ones are 0)."""
    if end - start >= 60:  # one unpack for the usual layout, a third of the cost of the walk
        head = _STATS64_HEAD.unpack_from(data, start)
        if head[0::3] == _STATS64_LENGTHS and head[1::3] == _STATS64_KINDS:
            return Traffic(*head[2::3])
    values = [0, 0, 0, 0, 0]
    for kind, body, stop in walk_attrs(data, start, end):
        if STATS_CONNS <= kind <= STATS_OUTBYTES:
            if stop - body == 8:
                values[kind - 1] = _U64.unpack_from(data, body)[0]
            elif stop - body == 4:
                values[kind - 1] = U32.unpack_from(data, body)[0]
    return Traffic(*values)


def _traffic(data: bytes, stats64: tuple[int, int], stats: tuple[int, int]) -> Traffic | None:
    """STATS64 where the kernel sent it, else STATS, else None; (0, 0) is an absent one."""
    start, end = stats64 if stats64[1] else stats
    return parse_traffic(data, start, end) if end else None


def parse_service(data: bytes, start: int, end: int) -> Service:
    af = socket.AF_INET
    proto = 0
    addr = b""
    port = fwmark = timeout = flags = 0
    sched = DEFAULT_SCHEDULER
    netmask = b""
    stats = stats64 = (0, 0)
    for kind, s, e in walk_attrs(data, start, end):
        if kind == SVC_AF:
            af = U16.unpack_from(data, s)[0]
        elif kind == SVC_PROTOCOL:
            proto = U16.unpack_from(data, s)[0]
        elif kind == SVC_ADDR:
            addr = data[s:e]
        elif kind == SVC_PORT:
            port = BE16.unpack_from(data, s)[0]
        elif kind == SVC_FWMARK:
            fwmark = U32.unpack_from(data, s)[0]
        elif kind == SVC_SCHED:
            sched = data[s:e].rstrip(b"\0").decode()
        elif kind == SVC_FLAGS:
            flags = U32.unpack_from(data, s)[0]
        elif kind == SVC_TIMEOUT:
            timeout = U32.unpack_from(data, s)[0]
        elif kind == SVC_NETMASK:
            netmask = data[s:e]
        elif kind == SVC_STATS64:
            stats64 = (s, e)
        elif kind == SVC_STATS:
            stats = (s, e)
    family = 6 if af == socket.AF_INET6 else 4
    if fwmark:
        key = ServiceKey.for_fwmark(fwmark, family)
    else:
        key = ServiceKey(PROTO_NAME.get(proto, str(proto)), addr_from(addr, af), port, 0, family)
    persistent = timeout if flags & IP_VS_SVC_F_PERSISTENT else 0
    mask = ""
    if persistent and family == 4 and len(netmask) >= 4 and netmask[:4] != b"\xff\xff\xff\xff":
        mask = str(ipaddress.IPv4Address(netmask[:4]))
    return Service(key, sched, persistent, mask, _traffic(data, stats64, stats))


def parse_dest(data: bytes, start: int, end: int, service_family: int) -> Destination:
    # A tight loop rather than walk_attrs(): this runs for every destination of a dump.
    af = FAMILY[service_family]
    addr = b""
    port = fwd = weight = active = inact = 0
    stats = stats64 = (0, 0)
    unpack_hdr, unpack_u32 = NLA.unpack_from, U32.unpack_from
    pos = start
    while pos + 4 <= end:
        length, kind = unpack_hdr(data, pos)
        if length < 4:
            break
        kind &= 0x3FFF
        body = pos + 4
        if kind == DEST_ADDR:
            addr = data[body : pos + length]
        elif kind == DEST_PORT:
            port = BE16.unpack_from(data, body)[0]
        elif kind == DEST_FWD:
            fwd = unpack_u32(data, body)[0] & 0x7
        elif kind == DEST_WEIGHT:
            weight = unpack_u32(data, body)[0]
        elif kind == DEST_ACTIVE:
            active = unpack_u32(data, body)[0]
        elif kind == DEST_INACT:
            inact = unpack_u32(data, body)[0]
        elif kind == DEST_AF:
            af = U16.unpack_from(data, body)[0]
        elif kind == DEST_STATS64:
            stats64 = (body, pos + length)
        elif kind == DEST_STATS:
            stats = (body, pos + length)
        pos += (length + 3) & ~3
    return Destination(
        addr_from(addr, af),
        port,
        FWD_NAME.get(fwd, "route"),
        weight,
        active,
        inact,
        _traffic(data, stats64, stats),
    )


# What a traffic read takes of a dumped destination, each with its attribute header ("h": a
# header's length or type, "v": a value), in the order DestTraffic.read takes the values: the
# address (16 bytes), the port (big-endian: two bytes), the address family, and STATS64's header
# with its first five attributes (the totals), as _STATS64_HEAD reads them.
_TRAFFIC_FIELDS = {
    DEST_ADDR: ("HH16s", "hhv"),
    DEST_PORT: ("HHBB", "hhvv"),
    DEST_AF: ("HHH", "hhv"),
    DEST_STATS64: ("HH" + "HHQ" * 5, "hh" + "hhv" * 5),
}


class _Layout(NamedTuple):
    """Where one kernel puts those fields in a destination's message of one length."""

    struct: struct.Struct  # the whole message, netlink header to padding
    headers: operator.itemgetter  # every header's fields, the sequence number first
    expected: tuple  # what they are in the message the layout was learned from
    endpoint: operator.itemgetter  # the address, the port's two bytes, the address family
    totals: operator.itemgetter  # the five totals


# A destination's message: netlink header (length, type, flags, sequence number; the port id
# skipped), the generic-netlink header (skipped), the destination attribute's header.
_MESSAGE_HEAD, _BODY = "=IHHI4x4xHH", 24


class DestTraffic:
    """The destinations of one dump buffer, each read for its address, port and counters only
    (all that a traffic read needs) where parse_dest walks some fifteen attributes per
    destination: every destination message of a kernel has the same attributes of fixed sizes,
    so the layout of the whole message is learned from the first one of its length (and checked
    against parse_dest), and a buffer of such messages is unpacked by struct.iter_unpack, each
    message's headers checked against the layout's. Anything else (padding that moves, a missing
    STATS64, a buffer that holds other messages) is for the caller's message-by-message read.
    Measured in the lab VM at 1,000 x 10: a Python loop per destination message was the read."""

    def __init__(self) -> None:
        self.layouts: dict[int, _Layout | None] = {}
        self.addresses: dict[bytes, str] = {}  # the same few addresses recur in every service

    def read_buffer(
        self, data: bytes, seq: int, service_family: int, into: dict[tuple[str, int], Traffic]
    ) -> bool:
        """Add every destination of the buffer `data` (answering request `seq`) to `into`; False
        when the buffer is not only such messages (then `into` may hold some of them)."""
        if len(data) < _BODY:
            return False
        size = (U32.unpack_from(data)[0] + 3) & ~3
        layout = self.layouts.get(size, _UNKNOWN)
        if layout is _UNKNOWN:
            layout = self.layouts[size] = _learn(data, size, service_family)
        if layout is None or len(data) % size:
            return False
        # Each step over the messages in C (map) but the one that names the destinations.
        rows = list(layout.struct.iter_unpack(data))
        expected = (seq, *layout.expected[1:])
        if any(map(expected.__ne__, map(layout.headers, rows))):
            return False
        addresses = self.addresses
        keys = []
        for raw, high, low, af in map(layout.endpoint, rows):
            address = addresses.get(raw)
            if address is None:
                address = addresses[raw] = _address(raw, af)
            keys.append((address, high << 8 | low))
        into.update(zip(keys, map(_as_traffic, map(layout.totals, rows)), strict=True))
        return True


_as_traffic = functools.partial(tuple.__new__, Traffic)


_UNKNOWN = _Layout(struct.Struct(""), operator.itemgetter(0), (), *[operator.itemgetter(0)] * 2)


def _address(raw: bytes, af: int) -> str:
    if af == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw)


def _learn(data: bytes, size: int, service_family: int) -> _Layout | None:
    """The layout of the message at the start of data (`size` bytes with its padding), or None
    when it is not a destination with every field or the layout does not read it as parse_dest
    does."""
    if len(data) < size or NLA.unpack_from(data, 20)[1] & ~NLA_F_NESTED != IPVS_CMD_ATTR_DEST:
        return None
    end = 20 + NLA.unpack_from(data, 20)[0]
    at = {kind: s - 4 for kind, s, _e in walk_attrs(data, _BODY, end) if kind in _TRAFFIC_FIELDS}
    if len(at) != len(_TRAFFIC_FIELDS) or end > size:
        return None
    fmt, position, count = _MESSAGE_HEAD, _BODY, 6
    headers: list[int] = [3, 0, 1, 2, 4, 5]  # the sequence number first (see read_buffer)
    values: dict[int, list[int]] = {}
    for kind in sorted(at, key=at.__getitem__):
        if at[kind] < position:
            return None
        fmt += f"{at[kind] - position}x" if at[kind] > position else ""
        piece, roles = _TRAFFIC_FIELDS[kind]
        fmt += piece
        position = at[kind] + struct.calcsize("=" + piece)
        headers += [count + i for i, role in enumerate(roles) if role == "h"]
        values[kind] = [count + i for i, role in enumerate(roles) if role == "v"]
        count += len(roles)
    fmt += f"{size - position}x" if size > position else ""
    layout_struct = struct.Struct(fmt)
    fields = layout_struct.unpack_from(data)
    pick = operator.itemgetter(*headers)
    picked = [i for kind in _TRAFFIC_FIELDS for i in values[kind]]
    endpoint, totals = operator.itemgetter(*picked[:4]), operator.itemgetter(*picked[4:])
    layout = _Layout(layout_struct, pick, pick(fields), endpoint, totals)
    raw, high, low, af = endpoint(fields)
    dest = parse_dest(data, _BODY, end, service_family)
    if ((_address(raw, af), high << 8 | low), totals(fields)) != (dest.key, dest.traffic):
        return None
    return layout


# What a traffic read takes of a dumped service after its key: the STATS64 attribute's header and
# its first five attributes (the totals), as _STATS64_HEAD reads them; the headers' fields and the
# values picked apart by position.
_SERVICE_STATS64 = struct.Struct("=HH" + _STATS64_HEAD.format[1:])
_SERVICE_STATS64_HEADERS = operator.itemgetter(0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15)
_SERVICE_STATS64_VALUES = operator.itemgetter(4, 7, 10, 13, 16)
_SERVICE_KEY_KINDS = frozenset((SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK))


class _ServiceLayout(NamedTuple):
    """Where one kernel puts a traffic read's fields in a service's attribute of one length."""

    key_length: int  # the key's attributes (family, then fwmark or protocol, address, port)
    stats64: int  # STATS64's header, from the attribute's body
    headers: tuple  # STATS64's header and its five totals' headers, as they were learned


class ServiceCounters:
    """The services of a dump, each read for its key, its counters and the payload that asks for
    its destinations (all that a traffic read needs) where parse_service walks a dozen attributes
    and builds a Service. A kernel sends a service's key attributes first and the same bytes for
    the same service at every dump, so the bytes are looked up (`keys`: checked once against
    ServiceCodec's packing of the key parse_service reads from them); its counters are read at
    the place of STATS64 learned from the first service of that length (checked against
    parse_service), their headers checked. Anything else is read by parse_service.
    Measured in the lab VM at 10,000 x 10: parse_service was a fifth of the read.

    Kept from one read to the next (the keys are the same while the table is); `keys` is emptied
    when it holds far more keys than a dump has services (a table that changed)."""

    def __init__(self) -> None:
        self.codec = ServiceCodec()
        self.keys: dict[bytes, tuple[ServiceKey, bytes]] = {}
        self.layouts: dict[int, _ServiceLayout] = {}

    def forget_gone(self, services: int) -> None:
        """Called after a dump of `services` services: bound `keys` by the table's size."""
        if len(self.keys) > 2 * services + 1024:
            self.keys.clear()
            self.codec = ServiceCodec()  # its own cache of keys too

    def read(self, data: bytes, start: int, end: int) -> tuple[ServiceKey, bytes, Traffic | None]:
        """(key, IPVS_CMD_GET_DEST's payload for it, counters or None) of the service attribute
        whose body is data[start:end]."""
        layout = self.layouts.get(end - start)
        if layout is not None and layout.stats64 + _SERVICE_STATS64.size <= end - start:
            known = self.keys.get(data[start : start + layout.key_length])
            if known is not None:
                head = _SERVICE_STATS64.unpack_from(data, start + layout.stats64)
                if _SERVICE_STATS64_HEADERS(head) == layout.headers:
                    key, payload = known
                    return key, payload, tuple.__new__(Traffic, _SERVICE_STATS64_VALUES(head))
        return self._learn(data, start, end)

    def _learn(self, data: bytes, start: int, end: int) -> tuple[ServiceKey, bytes, Traffic | None]:
        service = parse_service(data, start, end)
        key = service.key
        payload = self.codec.key_only(key)
        key_length = stats64 = -1
        for kind, body, _stop in walk_attrs(data, start, end):
            if key_length < 0 and kind not in _SERVICE_KEY_KINDS:
                key_length = body - 4 - start
            if kind == SVC_STATS64:
                stats64 = body - 4 - start
        if (
            0 <= key_length
            and 0 <= stats64
            and stats64 + _SERVICE_STATS64.size <= end - start
            and data[start : start + key_length] == self.codec.key_attrs(key)
        ):
            head = _SERVICE_STATS64.unpack_from(data, start + stats64)
            headers = _SERVICE_STATS64_HEADERS(head)
            if (
                headers[2::2] == _STATS64_LENGTHS
                and headers[3::2] == _STATS64_KINDS
                and _SERVICE_STATS64_VALUES(head) == service.traffic
            ):
                self.layouts[end - start] = _ServiceLayout(key_length, stats64, headers)
                self.keys[data[start : start + key_length]] = (key, payload)
        return key, payload, service.traffic


def daemon_payload(state: str, iface: str = "", syncid: int = 0) -> bytes:
    """IPVS_CMD_NEW_DAEMON's (or, with the state only, IPVS_CMD_DEL_DAEMON's) attributes."""
    body = pack_attr(DAEMON_STATE, U32.pack(SYNC_STATE_CODE[state]))
    if iface:
        body += pack_attr(DAEMON_MCAST_IFN, iface.encode() + b"\0")
        body += pack_attr(DAEMON_SYNC_ID, U32.pack(syncid & 0xFF))
    return NLA.pack(4 + len(body), IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED) + body


def parse_daemon(data: bytes, start: int, end: int) -> SyncDaemon | None:
    """One running sync daemon of an IPVS_CMD_GET_DAEMON dump."""
    states = {code: name for name, code in SYNC_STATE_CODE.items()}
    state, iface, syncid = None, "", 0
    for kind, s, e in walk_attrs(data, start, end):
        if kind == DAEMON_STATE:
            state = states.get(U32.unpack_from(data, s)[0])
        elif kind == DAEMON_MCAST_IFN:
            iface = data[s:e].split(b"\0", 1)[0].decode(errors="replace")
        elif kind == DAEMON_SYNC_ID:
            syncid = U32.unpack_from(data, s)[0]
    return None if state is None else SyncDaemon(state, iface, syncid)
