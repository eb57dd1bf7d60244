"""The ARP guard on a real network: two namespaces this test creates, a director and a real
server joined by a veth pair (TEST-NET-1 addresses only, never the host's own interfaces). A
real server that carries the VIP without ARP suppression answers the guard's probe and is named;
once it suppresses ARP for the VIP (its Set up's sysctls), nobody answers and the warning ends."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DIRECTOR, REAL, VIP = "192.0.2.1", "192.0.2.241", "192.0.2.240"

CONNECT = """
import socket, sys
with socket.socket() as s:
    s.settimeout(5)
    s.connect_ex((sys.argv[1], 9))
"""

WATCH = """
import json, sys
from pathlib import Path
from monitoring.arpguard import watch
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer

config = LvsConfig(primary="192.0.2.1", virtuals=[VirtualServer(
    name="mysql", active=True, address="192.0.2.240", device="dir0:1",
    servers=[RealServer(name="rs1", address="192.0.2.241", active=True)])])
state = Path(sys.argv[1])
events = []
guard = watch.ArpWatch(state, lambda: config, events.append, lambda: {"192.0.2.1"})
guard.step()
print(json.dumps({"found": watch.read_conflicts(state), "events": [e.as_dict() for e in events]}))
"""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


@pytest.fixture
def lan() -> Iterator[tuple[str, str]]:
    assert os.geteuid() == 0, "this test creates network namespaces: run the tests as root"
    director, real = f"lvsgd{os.getpid()}", f"lvsgr{os.getpid()}"
    run("ip", "netns", "add", director)
    run("ip", "netns", "add", real)
    try:
        run(
            "ip",
            "-n",
            director,
            "link",
            "add",
            "dir0",
            "type",
            "veth",
            "peer",
            "name",
            "rs0",
            "netns",
            real,
        )
        run("ip", "-n", director, "addr", "add", f"{DIRECTOR}/24", "dev", "dir0")
        run("ip", "-n", real, "addr", "add", f"{REAL}/24", "dev", "rs0")
        # The VIP on the real server's lo, as direct routing needs, with ARP left as the kernel
        # has it: the real server then answers ARP for the VIP (the fault the guard looks for).
        run("ip", "-n", real, "addr", "add", f"{VIP}/32", "dev", "lo")
        for ns, dev in ((director, "dir0"), (real, "rs0"), (director, "lo"), (real, "lo")):
            run("ip", "-n", ns, "link", "set", dev, "up")
        # The director talks to its real server (its health checks do), so the real server's MAC
        # is in the director's neighbour table: a connection attempt (refused) does that here.
        run("ip", "netns", "exec", director, sys.executable, "-c", CONNECT, REAL)
        yield director, real
    finally:
        run("ip", "netns", "delete", director, check=False)
        run("ip", "netns", "delete", real, check=False)


def guard_round(director: str, state: Path) -> dict:
    out = run("ip", "netns", "exec", director, sys.executable, "-c", WATCH, str(state))
    return json.loads(out.stdout)


def mac_of(ns: str, dev: str) -> str:
    return run("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/address").stdout.strip()


def test_a_real_server_answering_arp_for_the_vip_is_named_until_it_suppresses_arp(lan, tmp_path):
    director, real = lan
    os.chdir(REPO)  # the round runs this checkout's modules
    result = guard_round(director, tmp_path / "apply-state.json")
    conflicts = result["found"]["conflicts"]
    assert [(c["vip"], c["mac"], c["owner"]) for c in conflicts] == [
        (VIP, mac_of(real, "rs0"), REAL)
    ]
    assert "arp_ignore=1" in conflicts[0]["fix"]
    assert [(e["type"], e["name"], e["state"]) for e in result["events"]] == [
        ("VIP", VIP, "ARP_CONFLICT")
    ]

    for key, value in (("arp_ignore", "1"), ("arp_announce", "2")):
        for dev in ("all", "rs0"):
            run("ip", "netns", "exec", real, "sysctl", "-qw", f"net.ipv4.conf.{dev}.{key}={value}")
    result = guard_round(director, tmp_path / "apply-state-2.json")
    assert result["found"] == {"conflicts": [], "guarded": 1}
