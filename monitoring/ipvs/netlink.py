"""The real kernel: IPVS over generic netlink, and VIP addresses over rtnetlink.

The only module that imports pyroute2, loaded only by the worker and applylvs (the web process
never needs it, nor root).

Why IPVS messages are built here by hand: measured under the lab VM, pyroute2's per-request IPVS
API loaded a 1,000 x 10 table 12x slower than ipvsadm-restore and dumped 49x slower than
`ipvsadm -Ln`, almost all of it Python-side message building and parsing. Packing the few fixed
attributes with struct, sending many requests per sendmsg and reading all acks afterwards matches
ipvsadm. pyroute2 still does what it does well: rtnetlink addresses (IPRoute).
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator

from monitoring.ipvs.drivers import DriverError, KernelAddress, NoIPVSError
from monitoring.ipvs.table import Destination, Op, Service, ServiceEntry, ServiceKey, Table

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLA_F_NESTED = 0x8000
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

# linux/ip_vs.h
IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_SERVICE, IPVS_CMD_DEL_SERVICE, IPVS_CMD_GET_SERVICE = 1, 2, 3, 4
IPVS_CMD_NEW_DEST, IPVS_CMD_SET_DEST, IPVS_CMD_DEL_DEST, IPVS_CMD_GET_DEST = 5, 6, 7, 8
IPVS_CMD_SET_CONFIG, IPVS_CMD_GET_CONFIG, IPVS_CMD_GET_INFO = 12, 13, 15
IPVS_CMD_ATTR_SERVICE, IPVS_CMD_ATTR_DEST = 1, 2
IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, IPVS_CMD_ATTR_TIMEOUT_UDP = 4, 5, 6
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED = 1, 2, 3, 4, 5, 6
SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK = 7, 8, 9
DEST_ADDR, DEST_PORT, DEST_FWD, DEST_WEIGHT, DEST_UTHRESH, DEST_LTHRESH = 1, 2, 3, 4, 5, 6
DEST_ACTIVE, DEST_INACT, DEST_PERSIST, DEST_STATS, DEST_AF, DEST_STATS64 = 7, 8, 9, 10, 11, 12
IPVS_INFO_ATTR_VERSION, IPVS_INFO_ATTR_CONN_TAB_SIZE = 1, 2
IP_VS_SVC_F_PERSISTENT = 0x1

FWD_CODE = {"masq": 0, "local": 1, "tunnel": 2, "route": 3}
FWD_NAME = {0: "masq", 1: "local", 2: "tunnel", 3: "route"}
PROTO_CODE = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "fwm": 0}
PROTO_NAME = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp"}
FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_GENL = struct.Struct("=BBH")  # genlmsghdr: cmd, version, reserved
_HDR_GENL = struct.Struct("=IHHIIBBH")  # both, as every request starts
_NLA = struct.Struct("=HH")
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_BE16 = struct.Struct("!H")
# How many requests go into one sendmsg. Acks are read after each batch, and a batch is the unit
# that may have run past a failed request (the kernel goes on with the rest of a buffer).
BATCH = 128


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _walk(
    data: bytes | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) for each attribute in data[start:end]."""
    end = len(data) if end is None else end
    unpack = _NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            return
        yield kind & ~NLA_F_NESTED & 0x3FFF, start + 4, start + length
        start += (length + 3) & ~3


def _in6(address: str) -> bytes:
    """An address as IPVS carries it: 16 bytes, an IPv4 address padded with zeros."""
    packed = socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    return packed + b"\0" * (16 - len(packed))


def _addr_from(raw: bytes, family: int) -> str:
    # inet_ntop is several times faster than ipaddress here, which matters for large dumps.
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


PROC_IPVS = "/proc/net/ip_vs"
PROC_FORWARD = {"Masq": "masq", "Local": "local", "Tunnel": "tunnel", "Route": "route"}


class _ServiceIndex:
    """The services of one netlink dump, by key, and each firewall mark's address families."""

    def __init__(self, services: list[Service]) -> None:
        self.by_key = {service.key: service for service in services}
        self.marks: dict[int, set[int]] = {}
        for key in self.by_key:
            if key.protocol == "fwm":
                self.marks.setdefault(key.fwmark, set()).add(key.family)


def _proc_endpoint(text: str) -> tuple[str, int]:
    """An endpoint as /proc/net/ip_vs prints it ("C00002F0:0CEA", "[2001:0db8:...]:0CEA")."""
    if text[0] == "[":
        address, port = text[1:].split("]:")
        packed = socket.inet_pton(socket.AF_INET6, address)
        return socket.inet_ntop(socket.AF_INET6, packed), int(port, 16)
    address, port = text.split(":")
    return socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)), int(port, 16)


class _ServiceCodec:
    """Packs service keys and attributes; caches the key part since it repeats in every dest op."""

    def __init__(self) -> None:
        self._keys: dict[ServiceKey, bytes] = {}

    def key_attrs(self, key: ServiceKey) -> bytes:
        packed = self._keys.get(key)
        if packed is None:
            family = FAMILY[key.family]
            if key.protocol == "fwm":
                packed = _attr(SVC_AF, _U16.pack(family)) + _attr(SVC_FWMARK, _U32.pack(key.fwmark))
            else:
                packed = (
                    _attr(SVC_AF, _U16.pack(family))
                    + _attr(SVC_PROTOCOL, _U16.pack(PROTO_CODE[key.protocol]))
                    + _attr(SVC_ADDR, _in6(key.address))
                    + _attr(SVC_PORT, _BE16.pack(key.port))
                )
            self._keys[key] = packed
        return packed

    def full(self, service: Service) -> bytes:
        key = service.key
        flags = IP_VS_SVC_F_PERSISTENT if service.persistent else 0
        if key.family == 6:
            netmask = _U32.pack(128)
        elif service.persistent and service.netmask:
            netmask = ipaddress.IPv4Address(service.netmask).packed
        else:
            netmask = b"\xff\xff\xff\xff"
        body = (
            self.key_attrs(key)
            + _attr(SVC_SCHED, service.scheduler.encode() + b"\0")
            + _attr(SVC_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF))
            + _attr(SVC_TIMEOUT, _U32.pack(service.persistent))
            + _attr(SVC_NETMASK, netmask)
        )
        return _attr(IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, body)

    def key_only(self, key: ServiceKey) -> bytes:
        return _attr(IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, self.key_attrs(key))


# The fixed part of a destination's attributes after its address and port: forwarding method,
# weight, upper and lower thresholds, each a 4-byte attribute (8 bytes with its header).
_DEST_SETTINGS = struct.Struct("=HHIHHIHHIHHI")


@functools.lru_cache(maxsize=1 << 16)
def _dest_address_attrs(address: str) -> tuple[bytes, bytes]:
    """(address attribute, address-family attribute) of a destination; cached, since a full
    load packs one per destination and the same few thousand addresses recur."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return _attr(DEST_ADDR, _in6(address)), _attr(DEST_AF, _U16.pack(family))


def _dest_attrs(dest: Destination, family: int, full: bool) -> bytes:
    address, address_family = _dest_address_attrs(dest.address)
    port = _attr(DEST_PORT, _BE16.pack(dest.port))
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
    return _NLA.pack(4 + len(body), IPVS_CMD_ATTR_DEST | NLA_F_NESTED) + body


def ensure_ipvs_module() -> None:
    """Load ip_vs if it is not there yet; NoIPVSError when this kernel cannot have it."""
    if os.path.exists("/proc/net/ip_vs"):
        return
    try:
        subprocess.run(["modprobe", "ip_vs"], check=False, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if not os.path.exists("/proc/net/ip_vs"):
        raise NoIPVSError(
            "this kernel has no IPVS support (modprobe ip_vs failed and /proc/net/ip_vs is missing)"
        )


class IPVSNetlink:
    """One generic-netlink socket to the kernel's IPVS family."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise DriverError("changing the IPVS table needs root (CAP_NET_ADMIN)")
        ensure_ipvs_module()
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        try:  # acks without the echoed request: less to read back
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        except OSError:
            pass
        self.sock.bind((0, 0))
        self.seq = int(time.time()) & 0xFFFF
        self.codec = _ServiceCodec()
        self.family = self._family_id(b"IPVS")
        self.messages_sent = 0

    def close(self) -> None:
        self.sock.close()

    # --- plumbing ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return self.seq

    @staticmethod
    def _message(
        msg_type: int, flags: int, cmd: int, payload: bytes, seq: int, version: int = 1
    ) -> bytes:
        return _HDR_GENL.pack(20 + len(payload), msg_type, flags, seq, 0, cmd, version, 0) + payload

    def _family_id(self, name: bytes) -> int:
        seq = self._next_seq()
        msg = self._message(
            GENL_ID_CTRL,
            NLM_F_REQUEST,
            CTRL_CMD_GETFAMILY,
            _attr(CTRL_ATTR_FAMILY_NAME, name + b"\0"),
            seq,
        )
        self.sock.send(msg)
        for msg_type, payload in self._replies(seq):
            if msg_type == GENL_ID_CTRL:
                for kind, start, _end in _walk(payload, 4):
                    if kind == CTRL_ATTR_FAMILY_ID:
                        return _U16.unpack_from(payload, start)[0]
        raise NoIPVSError("this kernel has no IPVS generic-netlink family (is ip_vs loaded?)")

    def _replies(self, seq: int) -> Iterator[tuple[int, bytes]]:
        """Messages answering one request (a dump until DONE, or one reply/ack)."""
        while True:
            data = self.sock.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type, flags, mseq, _pid = _HDR.unpack_from(data, offset)
                payload = data[offset + 16 : offset + length]
                offset += (length + 3) & ~3
                if mseq != seq:
                    continue
                if msg_type == NLMSG_DONE:
                    return
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise DriverError(os.strerror(code), code)
                    return
                yield msg_type, payload
                if not flags & 0x2:  # not NLM_F_MULTI: a single answer
                    return

    def request(self, cmd: int, payload: bytes) -> None:
        seq = self._next_seq()
        self.sock.send(self._message(self.family, NLM_F_REQUEST | NLM_F_ACK, cmd, payload, seq))
        self.messages_sent += 1
        for _ in self._replies(seq):
            pass

    def batch(self, requests: list[tuple[int, bytes, Op | None]]) -> None:
        """Send requests BATCH at a time; read every ack; raise on the first refused one."""
        for start in range(0, len(requests), BATCH):
            chunk = requests[start : start + BATCH]
            seqs: dict[int, Op | None] = {}
            parts = []
            for cmd, payload, op in chunk:
                seq = self._next_seq()
                seqs[seq] = op
                parts.append(
                    self._message(self.family, NLM_F_REQUEST | NLM_F_ACK, cmd, payload, seq)
                )
            self.sock.send(b"".join(parts))
            self.messages_sent += len(parts)
            first_error: tuple[Op | None, int] | None = None
            pending = set(seqs)
            while pending:
                data = self.sock.recv(1 << 20)
                offset = 0
                while offset + 16 <= len(data):
                    length, msg_type, _flags, mseq, _pid = _HDR.unpack_from(data, offset)
                    if msg_type == NLMSG_ERROR and mseq in pending:
                        pending.discard(mseq)
                        code = -struct.unpack_from("=i", data, offset + 16)[0]
                        if code and first_error is None:
                            first_error = (seqs[mseq], code)
                    offset += (length + 3) & ~3
            if first_error is not None:
                op, code = first_error
                what = op.to_ipvsadm() if op else "request"
                raise DriverError(
                    f"the kernel refused `ipvsadm {what}`: {os.strerror(code)}", code, op
                )

    # --- table -------------------------------------------------------------------------------
    def dump(self) -> Table:
        """The kernel's table: from /proc/net/ip_vs when it says everything (one read, where
        netlink needs a request per service), else over netlink."""
        table = self.dump_proc()
        return self.dump_netlink() if table is None else table

    def dump_proc(self) -> Table | None:
        """Parse /proc/net/ip_vs, the kernel's own text of the table (this process's network
        namespace, like the netlink socket). None where it cannot say everything netlink would:
        no such file, a protocol other than TCP, UDP or a firewall mark, or a firewall mark that
        is both an IPv4 and an IPv6 service (the text does not name the family).

        Two things the text gets from one netlink dump of the services (no per-service
        request), only when the table has them: a firewall mark's address family, and the
        persistence timeout, which the text prints in kernel jiffies (its HZ is not knowable
        from user space)."""
        try:
            with open(PROC_IPVS, "rb") as handle:
                lines = handle.read().decode("ascii").split("\n")
        except (OSError, UnicodeDecodeError):
            return None
        table: Table = {}
        entry: ServiceEntry | None = None
        services: _ServiceIndex | None = None
        for line in lines[3:]:  # a version line and two heading lines
            if not line:
                continue
            fields = line.split()
            if line[0] == " ":  # "  -> C0000201:0CEA      Route   1      0          0"
                if entry is None or len(fields) < 6:
                    return None
                address, port = _proc_endpoint(fields[1])
                entry.destinations[(address, port)] = Destination(
                    address,
                    port,
                    PROC_FORWARD.get(fields[2], "route"),
                    int(fields[3]),
                    int(fields[4]),
                    int(fields[5]),
                )
                continue
            protocol = fields[0]
            if protocol == "FWM":  # "FWM  00000005 rr [ops ][persistent 300 FFFFFF00]"
                mark = int(fields[1], 16)
                services = services or _ServiceIndex(self._services())
                families = services.marks.get(mark, set())
                if len(families) != 1:
                    return None
                key = ServiceKey.for_fwmark(mark, next(iter(families)))
            elif protocol in ("TCP", "UDP"):  # "TCP  C00002F0:0CEA lc [ops ][persistent ...]"
                address, port = _proc_endpoint(fields[1])
                key = ServiceKey(protocol.lower(), address, port, 0, 6 if ":" in address else 4)
            else:
                return None
            rest = fields[2:]
            persistent, mask = 0, ""
            if "persistent" in rest:
                at = rest.index("persistent")
                services = services or _ServiceIndex(self._services())
                known = services.by_key.get(key)
                if known is None:  # made between the two reads: take it all from netlink
                    return None
                persistent = known.persistent
                raw = rest[at + 2] if len(rest) > at + 2 else "FFFFFFFF"
                if key.family == 4 and raw.upper() != "FFFFFFFF":
                    mask = socket.inet_ntop(socket.AF_INET, bytes.fromhex(raw))
            entry = ServiceEntry(Service(key, rest[0], persistent, mask))
            table[key] = entry
        return table

    def _services(self) -> list[Service]:
        seq = self._next_seq()
        self.sock.send(
            self._message(self.family, NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_SERVICE, b"", seq)
        )
        services: list[Service] = []
        for _type, payload in self._replies(seq):
            for kind, start, end in _walk(payload, 4):
                if kind == IPVS_CMD_ATTR_SERVICE:
                    services.append(self._parse_service(payload, start, end))
        return services

    def dump_netlink(self) -> Table:
        """The table over netlink: one dump of the services, then one per service."""
        table: Table = {}
        for service in self._services():
            entry = ServiceEntry(service)
            seq = self._next_seq()
            self.sock.send(
                self._message(
                    self.family,
                    NLM_F_REQUEST | NLM_F_DUMP,
                    IPVS_CMD_GET_DEST,
                    self.codec.key_only(service.key),
                    seq,
                )
            )
            for _type, payload in self._replies(seq):
                for kind, start, end in _walk(payload, 4):
                    if kind == IPVS_CMD_ATTR_DEST:
                        dest = self._parse_dest(payload, start, end, service.key.family)
                        entry.destinations[dest.key] = dest
            table[service.key] = entry
        return table

    @staticmethod
    def _parse_service(data: bytes, start: int, end: int) -> Service:
        af = socket.AF_INET
        proto = 0
        addr = b""
        port = fwmark = timeout = flags = 0
        sched = "wlc"
        netmask = b""
        for kind, s, e in _walk(data, start, end):
            if kind == SVC_AF:
                af = _U16.unpack_from(data, s)[0]
            elif kind == SVC_PROTOCOL:
                proto = _U16.unpack_from(data, s)[0]
            elif kind == SVC_ADDR:
                addr = data[s:e]
            elif kind == SVC_PORT:
                port = _BE16.unpack_from(data, s)[0]
            elif kind == SVC_FWMARK:
                fwmark = _U32.unpack_from(data, s)[0]
            elif kind == SVC_SCHED:
                sched = data[s:e].rstrip(b"\0").decode()
            elif kind == SVC_FLAGS:
                flags = _U32.unpack_from(data, s)[0]
            elif kind == SVC_TIMEOUT:
                timeout = _U32.unpack_from(data, s)[0]
            elif kind == SVC_NETMASK:
                netmask = data[s:e]
        family = 6 if af == socket.AF_INET6 else 4
        if fwmark:
            key = ServiceKey.for_fwmark(fwmark, family)
        else:
            key = ServiceKey(
                PROTO_NAME.get(proto, str(proto)), _addr_from(addr, af), port, 0, family
            )
        persistent = timeout if flags & IP_VS_SVC_F_PERSISTENT else 0
        mask = ""
        if persistent and family == 4 and len(netmask) >= 4 and netmask[:4] != b"\xff\xff\xff\xff":
            mask = str(ipaddress.IPv4Address(netmask[:4]))
        return Service(key, sched, persistent, mask)

    @staticmethod
    def _parse_dest(data: bytes, start: int, end: int, service_family: int) -> Destination:
        # A tight loop rather than _walk(): this runs for every destination of a dump.
        af = FAMILY[service_family]
        addr = b""
        port = fwd = weight = active = inact = 0
        unpack_hdr, unpack_u32 = _NLA.unpack_from, _U32.unpack_from
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
                port = _BE16.unpack_from(data, body)[0]
            elif kind == DEST_FWD:
                fwd = unpack_u32(data, body)[0] & 0x7
            elif kind == DEST_WEIGHT:
                weight = unpack_u32(data, body)[0]
            elif kind == DEST_ACTIVE:
                active = unpack_u32(data, body)[0]
            elif kind == DEST_INACT:
                inact = unpack_u32(data, body)[0]
            elif kind == DEST_AF:
                af = _U16.unpack_from(data, body)[0]
            pos += (length + 3) & ~3
        return Destination(
            _addr_from(addr, af), port, FWD_NAME.get(fwd, "route"), weight, active, inact
        )

    def apply(self, ops: Iterable[Op]) -> int:
        requests: list[tuple[int, bytes, Op | None]] = []
        codec = self.codec
        for op in ops:
            svc = op.service
            if op.action == "add_service":
                requests.append((IPVS_CMD_NEW_SERVICE, codec.full(svc), op))
            elif op.action == "edit_service":
                requests.append((IPVS_CMD_SET_SERVICE, codec.full(svc), op))
            elif op.action == "del_service":
                requests.append((IPVS_CMD_DEL_SERVICE, codec.key_only(svc.key), op))
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
                        codec.key_only(svc.key) + _dest_attrs(op.destination, svc.key.family, full),
                        op,
                    )
                )
        self.batch(requests)
        return len(requests)

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        payload = (
            _attr(IPVS_CMD_ATTR_TIMEOUT_TCP, _U32.pack(tcp))
            + _attr(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, _U32.pack(tcpfin))
            + _attr(IPVS_CMD_ATTR_TIMEOUT_UDP, _U32.pack(udp))
        )
        self.request(IPVS_CMD_SET_CONFIG, payload)

    def timeouts(self) -> tuple[int, int, int]:
        """The kernel's TCP, TCP FIN and UDP timeouts (`ipvsadm -L --timeout`)."""
        seq = self._next_seq()
        self.sock.send(self._message(self.family, NLM_F_REQUEST, IPVS_CMD_GET_CONFIG, b"", seq))
        values = {IPVS_CMD_ATTR_TIMEOUT_TCP: 0, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: 0}
        values[IPVS_CMD_ATTR_TIMEOUT_UDP] = 0
        for _type, payload in self._replies(seq):
            for kind, s, _e in _walk(payload, 4):
                if kind in values:
                    values[kind] = _U32.unpack_from(payload, s)[0]
        return (
            values[IPVS_CMD_ATTR_TIMEOUT_TCP],
            values[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN],
            values[IPVS_CMD_ATTR_TIMEOUT_UDP],
        )

    def version(self) -> tuple[str, int]:
        seq = self._next_seq()
        self.sock.send(self._message(self.family, NLM_F_REQUEST, IPVS_CMD_GET_INFO, b"", seq))
        version, size = "1.2.1", 4096
        for _type, payload in self._replies(seq):
            for kind, s, _e in _walk(payload, 4):
                if kind == IPVS_INFO_ATTR_VERSION:
                    v = _U32.unpack_from(payload, s)[0]
                    version = f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"
                elif kind == IPVS_INFO_ATTR_CONN_TAB_SIZE:
                    size = _U32.unpack_from(payload, s)[0]
        return version, size


class NetlinkDriver:
    """The Driver for the real kernel (see monitoring.ipvs.drivers.Driver)."""

    name = "netlink"

    def __init__(self) -> None:
        self.ipvs = IPVSNetlink()
        self._iproute = None

    @property
    def messages_sent(self) -> int:
        return self.ipvs.messages_sent

    def close(self) -> None:
        self.ipvs.close()
        if self._iproute is not None:
            self._iproute.close()

    def dump(self) -> Table:
        return self.ipvs.dump()

    def apply(self, ops: list[Op]) -> int:
        return self.ipvs.apply(ops)

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        self.ipvs.set_timeouts(tcp, tcpfin, udp)

    def timeouts(self) -> tuple[int, int, int]:
        return self.ipvs.timeouts()

    def version(self) -> tuple[str, int]:
        return self.ipvs.version()

    # --- addresses (pyroute2) --------------------------------------------------------------
    @property
    def iproute(self):
        if self._iproute is None:
            from pyroute2 import IPRoute

            self._iproute = IPRoute()
        return self._iproute

    def _index(self, device: str) -> int:
        found = self.iproute.link_lookup(ifname=device)
        if not found:
            raise DriverError(f"network device {device} does not exist", errno.ENODEV)
        return found[0]

    def addresses(self) -> list[KernelAddress]:
        result = []
        for msg in self.iproute.get_addr():
            index = msg["index"]
            result.append(
                KernelAddress(
                    msg.get_attr("IFA_ADDRESS"),
                    msg["prefixlen"],
                    self._name(index),
                    msg.get_attr("IFA_LABEL") or self._name(index),
                )
            )
        return result

    def _name(self, index: int) -> str:
        links = self.iproute.get_links(index)
        return links[0].get_attr("IFLA_IFNAME") if links else str(index)

    def add_address(self, address: str, prefixlen: int, device: str, label: str) -> None:
        kwargs = {"index": self._index(device), "address": address, "prefixlen": prefixlen}
        if ipaddress.ip_address(address).version == 4 and label and label != device:
            kwargs["label"] = label
        try:
            self.iproute.addr("add", **kwargs)
        except Exception as exc:  # pyroute2 raises NetlinkError(code, message)
            code = getattr(exc, "code", 0)
            if code == errno.EEXIST:
                return
            raise DriverError(
                f"cannot add {address}/{prefixlen} on {label}: {os.strerror(code) if code else exc}",
                code,
            ) from None

    def remove_address(self, address: str, prefixlen: int, device: str) -> None:
        try:
            self.iproute.addr(
                "del", index=self._index(device), address=address, prefixlen=prefixlen
            )
        except DriverError:
            return
        except Exception as exc:
            code = getattr(exc, "code", 0)
            if code == errno.EADDRNOTAVAIL:
                return
            raise DriverError(
                f"cannot remove {address}/{prefixlen} from {device}: {exc}", code
            ) from None

    def ip_forward(self) -> bool:
        with open("/proc/sys/net/ipv4/ip_forward") as handle:
            return handle.read().strip() == "1"

    def set_ip_forward(self, on: bool) -> None:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as handle:
            handle.write("1\n" if on else "0\n")

    def gratuitous_arp(
        self, address: str, device: str, count: int = 5, interval: float = 1.0
    ) -> threading.Thread | None:
        """Announce `address` on `device` as pulse's send_arp did (5 times, 1 s apart), in a
        background thread so that an apply never waits for the announcements."""
        if ipaddress.ip_address(address).version != 4:
            return None
        try:
            index = self._index(device)
            link = self.iproute.get_links(index)[0]
            mac = bytes.fromhex(link.get_attr("IFLA_ADDRESS").replace(":", ""))
        except Exception:
            return None
        ip = ipaddress.IPv4Address(address).packed
        # Ethernet broadcast + ARP request "who-has VIP tell VIP" (gratuitous).
        frame = (
            b"\xff" * 6
            + mac
            + b"\x08\x06"
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
            + mac
            + ip
            + b"\x00" * 6
            + ip
        )

        def announce() -> None:
            try:
                with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
                    raw.bind((device.split(":", 1)[0], 0x0806))
                    for i in range(count):
                        raw.send(frame)
                        if i + 1 < count:
                            time.sleep(interval)
            except OSError:
                pass

        thread = threading.Thread(target=announce, name=f"garp-{address}", daemon=True)
        thread.start()
        return thread
