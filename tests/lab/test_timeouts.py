"""The TCP/TCP FIN/UDP connection timeouts (lvs.cf tcp_timeout, tcpfin_timeout, udp_timeout:
lvsd's `ipvsadm --set`) reach the real kernel, and an apply that finds them already right does
not set them again."""

from __future__ import annotations

import subprocess

from scripts.testbed import lvscf
from scripts.testbed.topology import VIP
from tests.lab.product import Applier


def kernel_timeouts() -> str:
    out = subprocess.run(
        ["ipvsadm", "-L", "--timeout"], capture_output=True, text=True, check=True
    ).stdout
    return out.strip()


def with_timeouts(tcp: int, udp: int) -> str:
    text = lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, port=3306, scheduler="lc", servers=lvscf.mysql_servers()
        )
    )
    return text.replace(
        "debug_level = NONE\n", f"debug_level = NONE\ntcp_timeout = {tcp}\nudp_timeout = {udp}\n"
    )


def test_it_sets_the_timeouts_and_leaves_them_alone_when_they_are_right(applier: Applier) -> None:
    subprocess.run(["ipvsadm", "--set", "900", "120", "300"], check=True)
    first = applier.apply(with_timeouts(3600, 60), in_process=True)
    assert kernel_timeouts() == "Timeout (tcp tcpfin udp): 3600 120 60"
    assert "timeouts set" in first.stdout

    again = applier.dry_run(in_process=True)
    assert "ipvsadm --set" not in again.stdout
    assert "nothing to do" in again.stdout

    changed = applier.dry_run(with_timeouts(7200, 60), in_process=True)
    assert "ipvsadm --set 7200 120 60" in changed.stdout
    assert kernel_timeouts() == "Timeout (tcp tcpfin udp): 3600 120 60"  # a dry run changes nothing
    subprocess.run(["ipvsadm", "--set", "900", "120", "300"], check=True)
