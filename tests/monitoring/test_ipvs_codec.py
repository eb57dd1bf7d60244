"""The IPVS request packing read back by the dump parser: what the driver sends the kernel is what
a dump of the kernel gives back (the lab checks the same against a real kernel)."""

from __future__ import annotations

import pytest

from monitoring.ipvs import ipvs_codec as codec
from monitoring.ipvs.netlink import U32, pack_attr, walk_attrs
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
