"""The BGP step driving a real BIRD, on the host in two network namespaces this test makes (a
router and a director on one veth, TEST-NET addresses, private AS numbers): the router (a plain
BIRD, as a network team's) learns the VIP once the table is loaded; a director whose real
servers are all down withdraws it and announces it again when one returns, over the same BGP
session (a `birdc configure`, no session reset); the worker's stop withdraws everything; bgp = 0
stops BIRD. Needs root, iproute2 and bird2; ~15 s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitoring.bgp import bird
from monitoring.bgp.director import BgpControl
from monitoring.ipvs.drivers.base import KernelAddress
from monitoring.ipvs.drivers.memory import MemoryDriver
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.lvsconf.parse import parse

VIP = "192.0.2.100"
ROUTER, DIRECTOR = "198.51.100.1", "198.51.100.11"
LVS_CF = (
    f"network = direct\nbgp = 1\nbgp_local_as = 64512\nbgp_router = {ROUTER}\n"
    "bgp_router_as = 64513\nbgp_hold_time = 3\n"
    f"virtual web {{\n active = 1\n address = {VIP} lo\n port = 80\n scheduler = mh\n"
    "     server a {\n address = 203.0.113.1\n active = 1\n }\n}\n"
)
# The bound on a dead worker's VIPs (README): BIRD dies with the worker and says so to the router.
WITHDRAWN_WITHIN = 5.0
DOWN = RealServerRef("web", "203.0.113.1", 80)
ROUTER_CONF = f"""router id {ROUTER};
protocol device {{ }}
protocol kernel {{ ipv4 {{ export all; }}; merge paths on; }}
protocol bfd {{ interface "*" {{ interval 100 ms; multiplier 3; }}; }}
protocol bgp director1 {{
  local {ROUTER} as 64513;
  neighbor {DIRECTOR} as 64512;
  hold time 3;
  bfd on;
  ipv4 {{ import all; export none; }};
}}
"""


def run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result.stdout


@pytest.fixture
def lab(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces)")
    tag = os.getpid() % 100000
    router, director = f"bg{tag}r", f"bg{tag}d"
    run("ip", "netns", "add", router)
    run("ip", "netns", "add", director)
    try:
        run("ip", "-n", router, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", director)  # fmt: skip
        for ns, address in ((router, ROUTER), (director, DIRECTOR)):
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", director, "addr", "add", f"{VIP}/32", "dev", "lo")
        (tmp_path / "router.conf").write_text(ROUTER_CONF)
        router_sock = tmp_path / "router.ctl"
        run("ip", "netns", "exec", router, "bird", "-c", str(tmp_path / "router.conf"),
            "-s", str(router_sock), "-P", str(tmp_path / "router.pid"))  # fmt: skip
        # The product's BIRD runs in the director's namespace; its socket is a file, so birdc
        # reaches it from anywhere.
        wrapper = tmp_path / "bird-in-director"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {director} bird "$@"\n')
        wrapper.chmod(0o755)
        paths = bird.BirdPaths(
            tmp_path / "bird.conf", tmp_path / "bird.ctl", tmp_path / "bird.pid", str(wrapper)
        )
        yield router, router_sock, paths
    finally:
        for pid_file in (tmp_path / "router.pid", tmp_path / "bird.pid"):
            try:
                os.kill(int(pid_file.read_text()), 9)
            except (OSError, ValueError):
                pass
        run("ip", "netns", "del", router)
        run("ip", "netns", "del", director)


def routes(router: str, sock: Path) -> tuple[str, str]:
    # birdc exits 1 with "Network not found" when the router has no route: not an error here.
    shown = subprocess.run(
        ["birdc", "-s", str(sock), "show", "route", f"{VIP}/32"],
        capture_output=True, text=True, timeout=30, check=False,
    ).stdout  # fmt: skip
    kernel = run("ip", "-n", router, "route", "show", f"{VIP}/32")
    return shown, kernel


def wait_for(predicate, seconds: float = 20.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def router_session(sock: Path) -> bird.Protocol:
    found = bird.parse_protocols(run("birdc", "-s", str(sock), "show", "protocols"))
    return next(p for p in found if p.name == "director1")


def test_the_director_announces_what_it_can_serve_and_withdraws_the_rest(lab):
    router, sock, paths = lab
    control = BgpControl(paths)
    driver = MemoryDriver()
    driver.address_list = [
        KernelAddress(DIRECTOR, 24, "eth0", ""),
        KernelAddress(VIP, 32, "lo", ""),
    ]
    config = parse(LVS_CF)[0]

    control.step(config, driver, table_loaded=False)
    assert control.state.announced == [] and control.state.message == ""
    assert wait_for(lambda: router_session(sock).established)
    assert VIP not in routes(router, sock)[1]  # up, but not serving yet

    control.step(config, driver, table_loaded=True)
    assert wait_for(lambda: VIP in routes(router, sock)[1])
    shown, kernel = routes(router, sock)
    assert f"via {DIRECTOR}" in kernel and "AS64512" in shown.replace(" ", "")
    since = router_session(sock).since

    control.step(config, driver, table_loaded=True, down={DOWN})
    assert control.state.withdrawn == {
        VIP: "no real server (nor sorry server) of its virtual servers is up"
    }
    assert wait_for(lambda: VIP not in routes(router, sock)[1])
    control.step(config, driver, table_loaded=True)
    assert wait_for(lambda: VIP in routes(router, sock)[1])
    # Announced, withdrawn and announced again over one session: configure reset nothing.
    assert router_session(sock).established and router_session(sock).since == since
    assert [s["info"] for s in control.state.sessions] == ["Established"]

    control.withdraw_all(config, driver)
    assert wait_for(lambda: VIP not in routes(router, sock)[1])
    assert router_session(sock).since == since

    control.step(parse("network = direct\n")[0], driver, table_loaded=True)
    assert wait_for(lambda: not bird.Bird(paths).running())


def test_a_killed_worker_leaves_nothing_announced(lab, tmp_path):
    router, sock, paths = lab
    # BFD off and the longest hold time the router accepts: the route may not go by a timer.
    text = LVS_CF.replace("bgp_hold_time = 3", "bgp_hold_time = 90\nbgp_bfd = 0")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.bgp_worker",
            str(paths.conf),
            str(paths.socket),
            str(paths.pid_file),
            paths.bird,
            DIRECTOR,
            VIP,
            text,
        ],  # fmt: skip
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: VIP in routes(router, sock)[1]), worker.stdout.readline()
        bird_pid = int(paths.pid_file.read_text())
        worker.kill()
        worker.wait()
        took = time.monotonic()
        assert wait_for(lambda: VIP not in routes(router, sock)[1], seconds=WITHDRAWN_WITHIN)
        print(f"withdrawn {time.monotonic() - took:.2f} s after the worker's death")
        assert wait_for(lambda: not Path(f"/proc/{bird_pid}").exists())
        assert router_session(sock).state != "up"
    finally:
        worker.kill()
        worker.wait()
