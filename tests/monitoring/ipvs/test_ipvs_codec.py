"""The IPVS request packing read back by the dump parser: what the driver sends the kernel is what
a dump of the kernel gives back (the lab checks the same against a real kernel)."""

from __future__ import annotations

import struct

import pytest

from monitoring.ipvs.drivers import codec as codec
from monitoring.ipvs.drivers.netlink import U32, pack_attr, walk_attrs
from monitoring.ipvs.table import Destination, Op, Service, ServiceKey
from virtualservers.lvsconf.model import DEFAULT_SCHEDULER

WEB = ServiceKey.for_address("tcp", "192.0.2.240", 80)


def nested(data: bytes) -> dict[int, tuple[int, int]]:
    """The top-level attributes of a request payload: kind -> (payload start, end)."""
    return {kind: (start, end) for kind, start, end in walk_attrs(data)}


@pytest.mark.parametrize(
    "service",
    [
        Service(WEB, "lc"),
        Service(ServiceKey.for_address("udp", "192.0.2.240", 53), "rr", 300, "255.255.255.0"),
        Service(ServiceKey.for_address("tcp", "2001:db8::80", 443), "sh", 600),
        Service(ServiceKey.for_fwmark(5), "wrr", 60),
        Service(ServiceKey.for_fwmark(9, 6), "wlc"),
    ],
)
def test_a_packed_service_parses_back_as_itself(service):
    data = codec.ServiceCodec().full(service)
    start, end = nested(data)[codec.IPVS_CMD_ATTR_SERVICE]
    assert codec.parse_service(data, start, end) == service


@pytest.mark.parametrize(
    "dest, family",
    [
        (Destination("192.0.2.241", 80, "route", 3), 4),
        (Destination("198.51.100.1", 8080, "masq", 0), 4),
        (Destination("203.0.113.9", 80, "tunnel", 1000), 4),
        (Destination("2001:db8::1", 8080, "masq", 2), 6),
    ],
)
def test_a_packed_destination_parses_back_as_itself(dest, family):
    data = codec.dest_attrs(dest, family, full=True)
    start, end = nested(data)[codec.IPVS_CMD_ATTR_DEST]
    assert codec.parse_dest(data, start, end, family) == dest


def test_each_operation_is_one_request_naming_its_service_and_destination():
    service = Service(WEB, "lc")
    dest = Destination("192.0.2.241", 80, "route", 3)
    ops = [
        Op("add_service", service),
        Op("add_dest", service, dest),
        Op("edit_dest", service, Destination("192.0.2.241", 80, "route", 0)),
        Op("del_dest", service, dest),
        Op("edit_service", Service(WEB, "rr")),
        Op("del_service", service),
    ]
    requests = codec.ServiceCodec().requests(ops)
    assert [(cmd, op) for cmd, _payload, op in requests] == list(
        zip(
            [
                codec.IPVS_CMD_NEW_SERVICE,
                codec.IPVS_CMD_NEW_DEST,
                codec.IPVS_CMD_SET_DEST,
                codec.IPVS_CMD_DEL_DEST,
                codec.IPVS_CMD_SET_SERVICE,
                codec.IPVS_CMD_DEL_SERVICE,
            ],
            ops,
            strict=True,
        )
    )
    for _cmd, payload, op in requests:
        attrs = nested(payload)
        parsed = codec.parse_service(payload, *attrs[codec.IPVS_CMD_ATTR_SERVICE])
        assert parsed.key == op.service.key
        if op.destination is None:
            assert codec.IPVS_CMD_ATTR_DEST not in attrs
        else:
            got = codec.parse_dest(payload, *attrs[codec.IPVS_CMD_ATTR_DEST], 4)
            assert got.key == op.destination.key
            if op.action != "del_dest":  # a delete names the destination only
                assert got.attributes() == op.destination.attributes()


def test_a_dumped_service_without_a_scheduler_has_the_default_one():
    body = pack_attr(codec.SVC_AF, b"\x02\x00") + pack_attr(codec.SVC_FWMARK, U32.pack(7))
    assert codec.parse_service(body, 0, len(body)).scheduler == DEFAULT_SCHEDULER


# The kernel's nested stats as ip_vs_ctl.c writes them: STATS has u32 connections and packets and
# u64 bytes; STATS64 has u64 everything; a u64 may follow a PAD attribute (11, empty body) where
# the architecture wants 8-byte alignment. Then the five rates, which the parser skips.
def u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def stats32(conns: int, inpkts: int, outpkts: int, inbytes: int, outbytes: int) -> bytes:
    pad = pack_attr(11, b"")
    return (
        pack_attr(1, U32.pack(conns))
        + pack_attr(2, U32.pack(inpkts))
        + pack_attr(3, U32.pack(outpkts))
        + pad
        + pack_attr(4, u64(inbytes))
        + pad
        + pack_attr(5, u64(outbytes))
        + b"".join(pack_attr(kind, U32.pack(7)) for kind in range(6, 11))
    )


def stats64(*values: int, pad: bool = False) -> bytes:
    before = pack_attr(11, b"") if pad else b""
    return b"".join(before + pack_attr(kind, u64(v)) for kind, v in enumerate(values, 1)) + (
        b"".join(pack_attr(kind, u64(7)) for kind in range(6, 11))
    )


NESTED = 0x8000
BIG = (5_000_000_000, 6_000_000_000, 7_000_000_000, 2**40 + 1, 2**50 + 3)  # past u32
SMALL = (11, 22, 33, 44_000_000_000, 55)


def dumped_dest(*stats: tuple[int, bytes]) -> bytes:
    """A destination of a dump (kernel order): its settings and counters, then the stats."""
    dest = Destination("192.0.2.241", 80, "route", 3)
    body = codec.dest_attrs(dest, 4, full=True)[4:]
    body += pack_attr(codec.DEST_ACTIVE, U32.pack(4)) + pack_attr(codec.DEST_INACT, U32.pack(9))
    for kind, payload in stats:
        body += pack_attr(kind | NESTED, payload)
    return pack_attr(codec.IPVS_CMD_ATTR_DEST | NESTED, body)


def test_a_dumped_destination_carries_the_64_bit_counters_when_the_kernel_sends_both():
    data = dumped_dest((codec.DEST_STATS, stats32(*SMALL)), (codec.DEST_STATS64, stats64(*BIG)))
    dest = codec.parse_dest(data, 4, len(data), 4)
    assert dest.traffic == BIG
    assert (dest.weight, dest.active_conn, dest.inact_conn) == (3, 4, 9)


def test_64_bit_counters_behind_padding_are_read_too():
    data = dumped_dest((codec.DEST_STATS64, stats64(*BIG, pad=True)))
    assert codec.parse_dest(data, 4, len(data), 4).traffic == BIG


def test_a_dumped_destination_falls_back_to_the_32_bit_stats_of_an_older_kernel():
    data = dumped_dest((codec.DEST_STATS, stats32(*SMALL)))
    dest = codec.parse_dest(data, 4, len(data), 4)
    assert dest.traffic == SMALL
    assert dest.traffic.incoming_bytes == 44_000_000_000  # bytes are u64 even there


def test_a_destination_without_stats_has_no_traffic_and_counters_never_make_two_differ():
    plain = dumped_dest()
    without = codec.parse_dest(plain, 4, len(plain), 4)
    assert without.traffic is None
    busy = dumped_dest((codec.DEST_STATS64, stats64(*BIG)))
    assert codec.parse_dest(busy, 4, len(busy), 4) == without


def test_a_dumped_service_carries_its_counters_64_bit_first():
    key = codec.ServiceCodec().full(Service(WEB, "lc"))[4:]
    both = key + pack_attr(codec.SVC_STATS | NESTED, stats32(*SMALL))
    both += pack_attr(codec.SVC_STATS64 | NESTED, stats64(*BIG))
    service = codec.parse_service(both, 0, len(both))
    assert service.traffic == BIG
    assert service == Service(WEB, "lc")
    older = key + pack_attr(codec.SVC_STATS | NESTED, stats32(*SMALL))
    assert codec.parse_service(older, 0, len(older)).traffic == SMALL
    assert codec.parse_service(key, 0, len(key)).traffic is None


def kernel_dest(
    address: str, port: int, *stats: tuple[int, bytes], family: int = 4, counts_first: bool = False
) -> bytes:
    """A destination's attribute body as a 6.1 kernel dumps it (its attributes' order and sizes),
    or with the connection counts moved first."""
    settings = codec.dest_attrs(Destination(address, port, "masq", 3), family, full=True)[4:]
    counts = pack_attr(codec.DEST_ACTIVE, U32.pack(4)) + pack_attr(codec.DEST_INACT, U32.pack(9))
    body = counts + settings if counts_first else settings + counts
    for kind, payload in stats:
        body += pack_attr(kind | NESTED, payload)
    return body


def dest_message(seq: int, body: bytes) -> bytes:
    """A destination's message of a dump (netlink and generic-netlink headers, NLM_F_MULTI)."""
    payload = pack_attr(codec.IPVS_CMD_ATTR_DEST | NESTED, body)
    return struct.pack("=IHHIIBBH", 20 + len(payload), 0x1C, 2, seq, 0, 1, 1, 0) + payload


@pytest.mark.parametrize("address, family", [("192.0.2.241", 4), ("2001:db8::1", 6)])
def test_a_buffer_of_destinations_is_read_for_their_addresses_ports_and_counters(address, family):
    reader = codec.DestTraffic()
    for seq, values in ((7, BIG), (8, SMALL)):  # the second buffer by the layout the first taught
        data = b"".join(
            dest_message(seq, kernel_dest(
                address, port, (codec.DEST_STATS, stats32(*SMALL)),
                (codec.DEST_STATS64, stats64(*values)), family=family,
            ))
            for port in (80, 8080)
        )  # fmt: skip
        into: dict = {}
        assert reader.read_buffer(data, seq, family, into)
        assert into == {(address, 80): values, (address, 8080): values}
    assert [layout is not None for layout in reader.layouts.values()] == [True]


def test_a_buffer_laid_out_otherwise_is_left_to_the_message_by_message_read():
    reader = codec.DestTraffic()
    usual = kernel_dest("192.0.2.241", 80, (codec.DEST_STATS64, stats64(*BIG)))
    assert reader.read_buffer(dest_message(7, usual), 7, 4, {})
    # As long as the usual one, its attributes elsewhere: the learned layout must not read it.
    moved = kernel_dest("192.0.2.242", 81, (codec.DEST_STATS64, stats64(*SMALL)), counts_first=True)
    assert len(moved) == len(usual)
    assert not reader.read_buffer(dest_message(7, usual) + dest_message(7, moved), 7, 4, {})
    # Another request's answer, padding before each u64 (kernels that align them), the 32-bit
    # stats only, none at all, and the end of a dump.
    assert not reader.read_buffer(dest_message(6, usual), 7, 4, {})
    for other in (
        kernel_dest("192.0.2.243", 82, (codec.DEST_STATS64, stats64(*SMALL, pad=True))),
        kernel_dest("192.0.2.244", 83, (codec.DEST_STATS, stats32(*SMALL))),
        kernel_dest("192.0.2.245", 84),
    ):
        assert not reader.read_buffer(dest_message(7, other), 7, 4, {})
    done = struct.pack("=IHHIIi", 20, 3, 2, 7, 0, 0)
    assert not reader.read_buffer(done, 7, 4, {})


def dumped_service(key: ServiceKey, *stats: tuple[int, bytes], scheduler: str = "wlc") -> bytes:
    """A service's attribute body as a kernel dumps it: its key, settings, then the stats."""
    body = codec.ServiceCodec().full(Service(key, scheduler))[4:]
    for kind, payload in stats:
        body += pack_attr(kind | NESTED, payload)
    return body


@pytest.mark.parametrize(
    "key",
    [WEB, ServiceKey.for_address("udp", "2001:db8::53", 53), ServiceKey.for_fwmark(7)],
)
def test_a_dumped_service_is_read_for_its_key_counters_and_the_request_for_its_destinations(key):
    reader = codec.ServiceCounters()
    request = codec.ServiceCodec().key_only(key)
    for values in (BIG, SMALL):  # the second from the key and the place of the counters learned
        body = dumped_service(
            key, (codec.SVC_STATS, stats32(*SMALL)), (codec.SVC_STATS64, stats64(*values))
        )
        assert reader.read(body, 0, len(body)) == (key, request, values)
    assert list(reader.keys.values()) == [(key, request)]
    assert len(reader.layouts) == 1


def test_a_service_laid_out_otherwise_is_read_as_parse_service_reads_it():
    reader = codec.ServiceCounters()
    usual = dumped_service(
        WEB, (codec.SVC_STATS, stats32(*SMALL)), (codec.SVC_STATS64, stats64(*BIG))
    )
    assert reader.read(usual, 0, len(usual))[2] == BIG
    # As long as the usual one, the same key, the stats the other way round: the place learned
    # holds no STATS64 header.
    swapped = dumped_service(
        WEB, (codec.SVC_STATS64, stats64(*BIG)), (codec.SVC_STATS, stats32(*SMALL))
    )
    assert len(swapped) == len(usual)
    assert reader.read(swapped, 0, len(swapped))[2] == BIG
    # Padding before each u64, the 32-bit stats only, none at all.
    for body, values in (
        (dumped_service(WEB, (codec.SVC_STATS64, stats64(*SMALL, pad=True))), SMALL),
        (dumped_service(WEB, (codec.SVC_STATS, stats32(*SMALL))), SMALL),
        (dumped_service(WEB), None),
    ):
        assert reader.read(body, 0, len(body)) == (WEB, codec.ServiceCodec().key_only(WEB), values)


def test_key_bytes_that_are_not_the_packing_of_their_key_are_never_looked_up():
    # An IPv4 address with something after its four bytes (the kernel sends zeros there): the
    # key is the same, the bytes are not those of any other service's key.
    reader = codec.ServiceCounters()
    key_attrs = codec.ServiceCodec().key_attrs(WEB)
    address_at = key_attrs.index(bytes([192, 0, 2, 240]))
    odd = key_attrs[: address_at + 4] + b"\xff" * 12 + key_attrs[address_at + 16 :]
    stats = pack_attr(codec.SVC_STATS64 | NESTED, stats64(*BIG))
    for body in (key_attrs + stats, odd + stats):
        assert reader.read(body, 0, len(body))[::2] == (WEB, BIG)
    assert list(reader.keys) == [key_attrs]


def test_the_keys_learned_are_forgotten_when_far_more_than_a_dumps_services():
    reader = codec.ServiceCounters()
    for mark in range(1, 1100):
        body = dumped_service(ServiceKey.for_fwmark(mark), (codec.SVC_STATS64, stats64(*SMALL)))
        reader.read(body, 0, len(body))
    reader.forget_gone(1099)
    assert len(reader.keys) == 1099
    reader.forget_gone(10)
    assert reader.keys == {}
