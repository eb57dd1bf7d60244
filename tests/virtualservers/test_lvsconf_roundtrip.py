"""parse(render(x)) == x, over generated configurations and over every real sample."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.virtualservers.samples import VALID_SAMPLES, sample_path
from virtualservers.lvsconf.model import (
    NETWORK_TYPES,
    PROTOCOLS,
    SCHEDULERS,
    FailoverService,
    LvsConfig,
    RealServer,
    VirtualServer,
)
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render

names = st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: str(ipaddress.IPv6Address(a)))
addresses = st.one_of(ipv4, ipv6)
masks = st.integers(8, 32).map(lambda n: str(ipaddress.IPv4Network(f"0.0.0.0/{n}").netmask))
devices = st.from_regex(r"(eth|bond|ens)[0-9]{1,2}(:[0-9]{1,2})?", fullmatch=True)
ports = st.integers(1, 65535)
seconds = st.integers(0, 100000)
# Printable text without double quotes or line breaks (which lvs.cf cannot carry), escapes literal.
strings = st.text(
    st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"'), max_size=40
)


def maybe(strategy):
    return st.one_of(st.none(), strategy)


real_servers = st.builds(
    RealServer,
    name=names,
    address=maybe(addresses),
    active=maybe(st.booleans()),
    port=maybe(ports),
    weight=maybe(st.integers(0, 65535)),
)


@st.composite
def virtual_servers(draw):
    address = draw(maybe(addresses))
    return VirtualServer(
        name=draw(names),
        active=draw(maybe(st.booleans())),
        address=address,
        device=draw(devices) if address is not None else None,
        sorry_server=draw(maybe(addresses)),
        vip_nmask=draw(maybe(masks)),
        fwmark=draw(maybe(st.integers(1, 2**31))),
        port=draw(st.one_of(st.none(), ports)),
        persistent=draw(maybe(seconds)),
        pmask=draw(maybe(masks)),
        send=draw(maybe(strings)),
        expect=draw(maybe(strings)),
        use_regex=draw(maybe(st.booleans())),
        send_program=draw(maybe(strings.map(lambda s: "/usr/local/bin/check " + s.strip()))),
        load_monitor=draw(maybe(st.sampled_from(["none", "rup", "ruptime", "uptime", "mysql"]))),
        scheduler=draw(maybe(st.sampled_from(SCHEDULERS))),
        protocol=draw(maybe(st.sampled_from(PROTOCOLS))),
        timeout=draw(maybe(st.integers(1, 3600))),
        reentry=draw(maybe(seconds)),
        quiesce_server=draw(maybe(st.booleans())),
        # Port must be explicit when servers rely on it being known before their blocks.
        servers=draw(st.lists(real_servers, max_size=4)),
    )


configs = st.builds(
    LvsConfig,
    serial_no=st.integers(0, 2**31),  # always written by lvsadmin; an empty file is an error
    primary=maybe(addresses),
    primary_private=maybe(addresses),
    service=maybe(st.sampled_from(["lvs", "fos"])),
    rsh_command=maybe(st.sampled_from(["rsh", "ssh"])),
    backup_active=maybe(st.booleans()),
    backup=maybe(addresses),
    heartbeat=maybe(st.booleans()),
    heartbeat_port=maybe(ports),
    keepalive=maybe(seconds),
    deadtime=maybe(seconds),
    network=maybe(st.sampled_from(NETWORK_TYPES)),
    nat_nmask=maybe(masks),
    debug_level=maybe(st.just("NONE")),
    monitor_links=maybe(st.booleans()),
    syncdaemon=maybe(st.booleans()),
    syncd_iface=maybe(devices),
    syncd_id=maybe(st.integers(0, 255)),
    tcp_timeout=maybe(seconds),
    tcpfin_timeout=maybe(seconds),
    udp_timeout=maybe(seconds),
    hard_shutdown=maybe(st.booleans()),
    active_cmd=maybe(st.just("/etc/sysconfig/ha/active.sh")),
    failovers=st.lists(
        st.builds(FailoverService, name=names, items=st.just([("active", "1"), ("port", "80")])),
        max_size=2,
    ),
    virtuals=st.lists(virtual_servers(), max_size=5),
)


@settings(max_examples=300, deadline=None)
@given(configs)
def test_it_reads_back_exactly_what_it_writes(config):
    # nat_router goes as a pair; keep generated configs consistent with the grammar.
    assert parse(render(config))[0] == config


@settings(max_examples=100, deadline=None)
@given(configs)
def test_it_writes_the_same_text_after_a_round_trip(config):
    text = render(config)
    assert render(parse(text)[0]) == text


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_it_round_trips_every_real_sample(name):
    config = parse(sample_path(name).read_bytes().decode())[0]
    assert parse(render(config))[0] == config
