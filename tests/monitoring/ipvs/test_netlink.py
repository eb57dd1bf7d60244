"""Generic netlink framing and batching, over a stand-in socket (the host kernel has no IPVS; the
lab drives the real one): attributes are padded and walked, and a batch reads every ack and names
the first refused operation in ipvsadm's words."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from monitoring.ipvs.drivers import netlink
from monitoring.ipvs.drivers.base import DriverError
from monitoring.ipvs.table import Destination, Op, Service, ServiceKey

SERVICE = Service(ServiceKey.for_address("tcp", "192.0.2.240", 80), "lc")


def test_an_attribute_is_padded_to_four_bytes_and_walked_back():
    data = netlink.pack_attr(1, b"abcde") + netlink.pack_attr(2 | netlink.NLA_F_NESTED, b"xy")
    assert len(data) == 12 + 8
    assert [(kind, data[s:e]) for kind, s, e in netlink.walk_attrs(data)] == [
        (1, b"abcde"),
        (2, b"xy"),
    ]


class AckingSocket:
    """Acks every request it is sent, refusing with EEXIST the ones at the positions (0-based)
    in `refuse_at`."""

    def __init__(self, refuse_at: set[int]) -> None:
        self.refuse_at = refuse_at
        self.sends = 0
        self.seen = 0
        self.acks: list[bytes] = []
        self.asked: list[int] = []  # the size of each recv

    def send(self, data: bytes) -> int:
        self.sends += 1
        offset = 0
        while offset < len(data):
            length, _type, _flags, seq, _pid = netlink.HDR.unpack_from(data, offset)
            code = -errno.EEXIST if self.seen in self.refuse_at else 0
            self.acks.append(
                netlink.HDR.pack(20, netlink.NLMSG_ERROR, 0, seq, 0) + struct.pack("=i", code)
            )
            self.seen += 1
            offset += length
        return len(data)

    def recv(self, size: int) -> bytes:
        self.asked.append(size)
        data, self.acks = b"".join(self.acks), []
        return data


def socket_refusing(*positions: int) -> netlink.GenericNetlink:
    nl = object.__new__(netlink.GenericNetlink)
    nl.sock = AckingSocket(set(positions))
    nl.seq = 1000
    nl.messages_sent = 0
    return nl


def dest_op(n: int) -> Op:
    return Op("add_dest", SERVICE, Destination(f"198.51.100.{n % 250 + 1}", 80 + n))


def test_a_batch_sends_many_requests_per_sendmsg_and_reads_every_ack():
    nl = socket_refusing()
    nl.batch([(5, b"", dest_op(n)) for n in range(netlink.BATCH + 2)])
    assert (nl.sock.sends, nl.messages_sent, nl.sock.acks) == (2, netlink.BATCH + 2, [])


def test_each_recv_asks_for_a_kernel_buffer_not_a_mebibyte():
    """Python allocates the size a recv asks for at every call: 1 MiB made each ack and each part
    of a dump an mmap and munmap (in the lab VM a netlink dump took 4.0x ipvsadm's time, 2.25x
    without). The kernel sends at most 32 KiB at once."""
    nl = socket_refusing()
    nl.batch([(5, b"", dest_op(n)) for n in range(3)])
    assert nl.sock.asked and all(32 << 10 <= size <= 64 << 10 for size in nl.sock.asked)


def test_a_refused_request_is_named_in_ipvsadm_words_after_its_batch_is_read():
    nl = socket_refusing(3, 7)
    ops = [dest_op(n) for n in range(10)]
    with pytest.raises(DriverError) as refused:
        nl.batch([(5, b"", op) for op in ops])
    assert refused.value.op == ops[3]
    assert refused.value.code == errno.EEXIST
    assert str(refused.value) == (
        f"the kernel refused `ipvsadm {ops[3].to_ipvsadm()}`: {os.strerror(errno.EEXIST)}"
    )
    assert nl.sock.acks == []  # the whole batch's acks were read, the later refusal too
