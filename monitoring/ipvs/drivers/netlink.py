"""Generic netlink, as much of it as the IPVS driver needs: one socket, the message and attribute
framing, the family lookup, and requests sent one at a time or many per sendmsg with their acks
read back. Nothing here knows IPVS (ipvs_codec.py packs its messages, ipvs_netlink.py sends them).

Why by hand rather than through pyroute2: measured under the lab VM, pyroute2's per-request IPVS
API loaded a 1,000 x 10 table 12x slower than ipvsadm-restore and dumped 49x slower than
`ipvsadm -Ln`, almost all of it Python-side message building and parsing. Packing the few fixed
attributes with struct, sending many requests per sendmsg and reading all acks afterwards matches
ipvsadm.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator

from monitoring.ipvs.drivers.base import DriverError
from monitoring.ipvs.table import Op

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

HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
HDR_GENL = struct.Struct("=IHHIIBBH")  # nlmsghdr then genlmsghdr, as every request starts
NLA = struct.Struct("=HH")  # nlattr: len, type
U16 = struct.Struct("=H")
U32 = struct.Struct("=I")
BE16 = struct.Struct("!H")
# How many requests go into one sendmsg. Acks are read after each batch, and a batch is the unit
# that may have run past a failed request (the kernel goes on with the rest of a buffer).
BATCH = 128
# Bytes asked of each recv: one recv returns one kernel buffer (a dump's are at most 32 KiB, an
# ack is a few bytes). Not more: Python allocates the whole size at every call, and 1 MiB is
# an mmap and munmap each time (10x the cost of the call on the host; a dump of 1,000 services
# makes 2,000 calls and a full load one per ack).
RECV_SIZE = 64 << 10


def pack_attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return NLA.pack(length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def walk_attrs(
    data: bytes | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) for each attribute in data[start:end]."""
    end = len(data) if end is None else end
    unpack = NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            return
        yield kind & ~NLA_F_NESTED & 0x3FFF, start + 4, start + length
        start += (length + 3) & ~3


def split_buffer(data: bytes, seq: int) -> tuple[list[tuple[int, int, int]], bool]:
    """The messages of one received buffer that answer request `seq`, as (type, payload start,
    payload end), and whether the answer ended in it (DONE, an ack, a single answer). A refusal
    raises DriverError."""
    messages: list[tuple[int, int, int]] = []
    offset = 0
    while offset + 16 <= len(data):
        length, msg_type, flags, mseq, _pid = HDR.unpack_from(data, offset)
        start = offset + 16
        offset += (length + 3) & ~3
        if mseq != seq:
            continue
        if msg_type == NLMSG_DONE:
            return messages, True
        if msg_type == NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, start)[0]
            if code:
                raise DriverError(os.strerror(code), code)
            return messages, True
        messages.append((msg_type, start, start + length - 16))
        if not flags & 0x2:  # not NLM_F_MULTI: a single answer
            return messages, True
    return messages, False


class GenericNetlink:
    """One generic-netlink socket; `family` is the id of the family its requests go to, which a
    subclass looks up by name (family_id) once the socket is open."""

    family = GENL_ID_CTRL

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        try:  # acks without the echoed request: less to read back
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        except OSError:
            pass
        self.sock.bind((0, 0))
        self.seq = int(time.time()) & 0xFFFF
        self.messages_sent = 0

    def close(self) -> None:
        self.sock.close()

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return self.seq

    @staticmethod
    def _message(
        msg_type: int, flags: int, cmd: int, payload: bytes, seq: int, version: int = 1
    ) -> bytes:
        return HDR_GENL.pack(20 + len(payload), msg_type, flags, seq, 0, cmd, version, 0) + payload

    def family_id(self, name: bytes) -> int | None:
        """The id the kernel gave the generic-netlink family `name`; None if it has no such."""
        seq = self._next_seq()
        msg = self._message(
            GENL_ID_CTRL,
            NLM_F_REQUEST,
            CTRL_CMD_GETFAMILY,
            pack_attr(CTRL_ATTR_FAMILY_NAME, name + b"\0"),
            seq,
        )
        self.sock.send(msg)
        for msg_type, payload in self._replies(seq):
            if msg_type == GENL_ID_CTRL:
                for kind, start, _end in walk_attrs(payload, 4):
                    if kind == CTRL_ATTR_FAMILY_ID:
                        return U16.unpack_from(payload, start)[0]
        return None

    def _replies(self, seq: int) -> Iterator[tuple[int, bytes]]:
        """Messages answering one request (a dump until DONE, or one reply/ack)."""
        for msg_type, data, start, end in self._messages(seq):
            yield msg_type, data[start:end]

    def _messages(self, seq: int) -> Iterator[tuple[int, bytes, int, int]]:
        """As _replies, each message as (type, the buffer it came in, its payload's start and
        end) rather than a copy."""
        while True:
            data = self.sock.recv(RECV_SIZE)
            messages, ended = split_buffer(data, seq)
            for msg_type, start, end in messages:
                yield msg_type, data, start, end
            if ended:
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
                data = self.sock.recv(RECV_SIZE)
                offset = 0
                while offset + 16 <= len(data):
                    length, msg_type, _flags, mseq, _pid = HDR.unpack_from(data, offset)
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
