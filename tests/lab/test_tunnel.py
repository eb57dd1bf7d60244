"""IP tunnelling (lvs.cf `network = tunnel`, ipvsadm `-i`): the director wraps each client packet
in IPIP to the real server, which unwraps it on tunl0 and answers the client directly from the
VIP. Applied by applylvs and used by a real MySQL client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.testbed import lvscf
from scripts.testbed.topology import REAL_SERVERS, VIP, Topology, mysql_connect, run, which_server
from tests.lab import ipvsadm
from tests.lab.product import Applier


@pytest.fixture
def tunnel_endpoints() -> Iterator[None]:
    """Each real server accepts IPIP on tunl0 (the VIP is already on its lo, ARP-silent)."""
    run("modprobe", "ipip")
    for ns in REAL_SERVERS:
        run("ip", "link", "set", "tunl0", "up", ns=ns)
        for scope in ("all", "default", "eth0", "tunl0"):
            run("sysctl", "-qw", f"net.ipv4.conf.{scope}.rp_filter=0", ns=ns)
    yield
    for ns in REAL_SERVERS:
        run("ip", "link", "set", "tunl0", "down", ns=ns)


def test_it_tunnels_mysql_to_both_real_servers(
    topology: Topology, applier: Applier, tunnel_endpoints: None
) -> None:
    applier.apply(
        lvscf.config(
            lvscf.virtual(
                "mysql", address=VIP, port=3306, scheduler="rr", servers=lvscf.mysql_servers()
            ),
            network="tunnel",
        ),
        in_process=True,
    )
    service = ipvsadm.table()[f"TCP {VIP}:3306"]
    assert {d.forward for d in service.destinations} == {"Tunnel"}
    assert "-i -w 1" in ipvsadm.ipvsadm_save()
    served = set()
    for _ in range(4):
        connection = mysql_connect(VIP, timeout=10)
        try:
            served.add(which_server(connection))
        finally:
            connection.close()
    assert served == set(REAL_SERVERS)
