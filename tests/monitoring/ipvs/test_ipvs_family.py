"""The IPVS family's traffic read over a stand-in kernel socket (the host kernel has no IPVS; the
lab compares the real kernel's counters with ipvsadm's): what it gives equals the counters of the
full netlink dump, with destinations several to a buffer as the kernel sends them."""

from __future__ import annotations

import gc

import pytest

from monitoring.ipvs.drivers import codec, netlink
from monitoring.ipvs.drivers.ipvs_family import IPVSNetlink
from monitoring.ipvs.drivers.netlink import U32, pack_attr, walk_attrs
from monitoring.ipvs.table import Service, ServiceKey, ServiceTraffic, Traffic, traffic_of
from tests.monitoring.ipvs.test_ipvs_codec import BIG, NESTED, SMALL, kernel_dest, stats32, stats64

FAMILY_ID = 0x1C
NLM_F_MULTI = 0x2
WEB = ServiceKey.for_address("tcp", "192.0.2.240", 80)
DNS = ServiceKey.for_address("udp", "2001:db8::53", 53)
# Each service's counters and its destinations' (address, port, counters).
KERNEL = {
    WEB: (BIG, [("192.0.2.241", 80, BIG), ("192.0.2.242", 80, SMALL), ("192.0.2.243", 8080, BIG)]),
    DNS: (SMALL, [("2001:db8::1", 53, SMALL)]),
}


def message(seq: int, payload: bytes, msg_type: int = FAMILY_ID) -> bytes:
    header = netlink.HDR_GENL.pack(20 + len(payload), msg_type, NLM_F_MULTI, seq, 0, 1, 1, 0)
    return header + payload


class KernelSocket:
    """Answers IPVS_CMD_GET_SERVICE and IPVS_CMD_GET_DEST dumps from KERNEL: the answer in
    buffers of two messages, then DONE in a buffer of its own (as the kernel sends them)."""

    def __init__(self) -> None:
        self.buffers: list[bytes] = []

    def send(self, data: bytes) -> int:
        _length, _type, _flags, seq, _pid, cmd, _version, _reserved = netlink.HDR_GENL.unpack_from(
            data
        )
        if cmd == codec.IPVS_CMD_GET_SERVICE:
            answers = [
                pack_attr(codec.IPVS_CMD_ATTR_SERVICE | NESTED, service_body(key, totals))
                for key, (totals, _dests) in KERNEL.items()
            ]
        else:
            assert cmd == codec.IPVS_CMD_GET_DEST
            (kind, start, end), = walk_attrs(data, 20)  # fmt: skip
            key = codec.parse_service(data, start, end).key
            answers = [
                pack_attr(codec.IPVS_CMD_ATTR_DEST | NESTED, dest_body(address, port, key, values))
                for address, port, values in KERNEL[key][1]
            ]
        messages = [message(seq, answer) for answer in answers]
        for at in range(0, len(messages), 2):
            self.buffers.append(b"".join(messages[at : at + 2]))
        self.buffers.append(message(seq, U32.pack(0), netlink.NLMSG_DONE))
        return len(data)

    def recv(self, _size: int) -> bytes:
        return self.buffers.pop(0)


def service_body(key: ServiceKey, totals: tuple[int, ...]) -> bytes:
    body = codec.ServiceCodec().full(Service(key, "wlc"))[4:]
    body += pack_attr(codec.SVC_STATS | NESTED, stats32(*SMALL))
    return body + pack_attr(codec.SVC_STATS64 | NESTED, stats64(*totals))


def dest_body(address: str, port: int, key: ServiceKey, values: tuple[int, ...]) -> bytes:
    return kernel_dest(
        address, port, (codec.DEST_STATS, stats32(*SMALL)), (codec.DEST_STATS64, stats64(*values)),
        family=key.family,
    )  # fmt: skip


def ipvs_on_stand_in() -> IPVSNetlink:
    ipvs = object.__new__(IPVSNetlink)
    ipvs.sock = KernelSocket()
    ipvs.seq, ipvs.messages_sent, ipvs.family = 1000, 0, FAMILY_ID
    ipvs.codec = codec.ServiceCodec()
    ipvs.service_counters = codec.ServiceCounters()
    return ipvs


def test_the_traffic_read_gives_every_services_and_destinations_counters():
    ipvs = ipvs_on_stand_in()
    assert ipvs.traffic() == {
        key: ServiceTraffic(Traffic(*totals), {(a, p): Traffic(*values) for a, p, values in dests})
        for key, (totals, dests) in KERNEL.items()
    }
    assert ipvs.sock.buffers == []  # every answer read, DONE included


def test_the_traffic_read_says_what_the_full_dump_says_of_the_counters():
    ipvs = ipvs_on_stand_in()
    assert ipvs.traffic() == traffic_of(ipvs.dump_netlink())


def test_a_second_read_from_the_services_keys_learned_gives_the_same_counters():
    ipvs = ipvs_on_stand_in()
    first = ipvs.traffic()
    assert len(ipvs.service_counters.keys) == len(KERNEL)
    assert ipvs.traffic() == first
    assert ipvs.sock.buffers == []


def test_the_garbage_collector_waits_for_the_read_and_is_left_as_it_was():
    ipvs = ipvs_on_stand_in()
    collecting: list[bool] = []
    send = ipvs.sock.send
    ipvs.sock.send = lambda data: (collecting.append(gc.isenabled()), send(data))[1]
    assert ipvs.traffic()
    assert collecting and not any(collecting)
    assert gc.isenabled()
    ipvs.sock.recv = lambda _size: (_ for _ in ()).throw(OSError("gone"))
    with pytest.raises(OSError):
        ipvs.traffic()
    assert gc.isenabled()
    gc.disable()
    try:
        ipvs_on_stand_in().traffic()
        assert not gc.isenabled()  # someone else's choice, not switched on behind their back
    finally:
        gc.enable()
