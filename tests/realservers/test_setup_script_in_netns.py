"""The generated script for real, inside a network namespace this test creates: `start` puts
the VIP on lo and sets the sysctls (or loads the ARP rules), a second `start` changes nothing,
`status` names what is missing, `stop` puts everything back.

Needs root (the tests run as root) and iproute2; arptables and nftables are test packages
(scripts/install-system-deps.sh), so no case is skipped. Only TEST-NET addresses, only inside
the namespace: the host's own addresses, sysctls and rules are never touched."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from realservers.setup.plan import plan_for_real
from realservers.setup.render import render_script
from tests.realservers.setup_support import config

REAL = "192.0.2.241"  # TEST-NET-1, only ever inside the namespace
VIPS = ("192.0.2.240", "192.0.2.250")
SYSCTLS = [
    f"net.ipv4.conf.{dev}.{key}"
    for dev in ("all", "lo", "rs0")
    for key in ("arp_ignore", "arp_announce")
]


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


@pytest.fixture
def netns() -> Iterator[str]:
    assert os.geteuid() == 0, "this test creates a network namespace: run the tests as root"
    name = f"lvsrs{os.getpid()}"
    run("ip", "netns", "add", name)
    try:
        # No IPv6 in here: the kernel's link-local addresses change under the test (tentative,
        # then not, as duplicate address detection ends), which made a second `start` look as
        # if it had changed the addresses. The set-ups tested here are IPv4.
        for scope in ("all", "default"):
            run(
                "ip",
                "netns",
                "exec",
                name,
                "sysctl",
                "-qw",
                f"net.ipv6.conf.{scope}.disable_ipv6=1",
            )
        # A veth pair inside the namespace stands for the real server's network card.
        run("ip", "-n", name, "link", "add", "rs0", "type", "veth", "peer", "name", "rs1")
        run("ip", "-n", name, "addr", "add", f"{REAL}/24", "dev", "rs0")
        for dev in ("lo", "rs0", "rs1"):
            run("ip", "-n", name, "link", "set", dev, "up")
        yield name
    finally:
        run("ip", "netns", "delete", name, check=False)


@pytest.fixture
def script(tmp_path: Path):
    def make(arp: str) -> tuple[Path, dict[str, str]]:
        path = tmp_path / "lvsadmin-realserver"
        path.write_text(render_script(plan_for_real(config(), "mysql1", arp=arp)))
        path.chmod(0o700)
        env = {**os.environ, "LVSADMIN_REALSERVER_STATE": str(tmp_path / "state")}
        return path, env

    return make


def in_ns(ns: str, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, env=env, timeout=60
    )


def sysctls(ns: str) -> dict[str, str]:
    return {
        key: run("ip", "netns", "exec", ns, "sysctl", "-n", key).stdout.strip() for key in SYSCTLS
    }


def lo_addresses(ns: str) -> str:
    return run("ip", "-n", ns, "addr", "show", "dev", "lo").stdout


def snapshot(ns: str) -> tuple[str, dict[str, str], str, str]:
    arp = run("ip", "netns", "exec", ns, "arptables", "-L", "-n").stdout
    nft = run("ip", "netns", "exec", ns, "nft", "list", "ruleset").stdout
    return run("ip", "-n", ns, "addr").stdout, sysctls(ns), arp, nft


def test_start_puts_the_vips_on_lo_and_sets_the_sysctls_and_stop_restores_them(netns, script):
    path, env = script("sysctl")
    before = snapshot(netns)
    status = in_ns(netns, env, "sh", str(path), "status")
    assert status.returncode == 1
    for vip in VIPS:
        assert f"missing: VIP {vip} is not on lo" in status.stdout
    assert "missing: sysctl net.ipv4.conf.all.arp_ignore is 0, needs 1" in status.stdout

    started = in_ns(netns, env, "sh", str(path), "start")
    assert started.returncode == 0, started.stderr
    for vip in VIPS:
        assert f"inet {vip}/32 scope global lo" in lo_addresses(netns)
    values = sysctls(netns)
    assert {k: v for k, v in values.items() if k.endswith("arp_ignore")} == dict.fromkeys(
        [k for k in SYSCTLS if k.endswith("arp_ignore")], "1"
    )
    assert {k: v for k, v in values.items() if k.endswith("arp_announce")} == dict.fromkeys(
        [k for k in SYSCTLS if k.endswith("arp_announce")], "2"
    )
    assert in_ns(netns, env, "sh", str(path), "status").returncode == 0

    after_one = snapshot(netns)
    again = in_ns(netns, env, "sh", str(path), "start")
    assert again.returncode == 0 and "added" not in again.stdout and "set " not in again.stdout
    assert snapshot(netns) == after_one

    stopped = in_ns(netns, env, "sh", str(path), "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert snapshot(netns) == before
    assert in_ns(netns, env, "sh", str(path), "status").returncode == 1


def test_stop_restores_a_value_that_was_not_the_default_and_keeps_a_vip_it_did_not_add(
    netns, script
):
    path, env = script("sysctl")
    run("ip", "netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.conf.lo.arp_announce=1")
    run("ip", "-n", netns, "addr", "add", "192.0.2.240/32", "dev", "lo")  # there before start
    before = snapshot(netns)
    assert in_ns(netns, env, "sh", str(path), "start").returncode == 0
    assert sysctls(netns)["net.ipv4.conf.lo.arp_announce"] == "2"
    assert in_ns(netns, env, "sh", str(path), "stop").returncode == 0
    assert snapshot(netns) == before
    assert "inet 192.0.2.240/32" in lo_addresses(netns)


@pytest.mark.parametrize("arp", ["arptables", "nftables"])
def test_the_arp_rules_are_loaded_once_and_removed_by_stop(netns, script, arp):
    path, env = script(arp)
    before = snapshot(netns)
    status = in_ns(netns, env, "sh", str(path), "status")
    assert status.returncode == 1 and "missing:" in status.stdout
    assert in_ns(netns, env, "sh", str(path), "start").returncode == 0
    addresses, values, arptables, nft = snapshot(netns)
    if arp == "arptables":
        for vip in VIPS:
            assert f"-j DROP -d {vip}" in arptables
            assert f"-j mangle -s {vip} --mangle-ip-s {REAL}" in arptables
    else:
        for vip in VIPS:
            assert f"arp daddr ip {vip} drop" in nft
            assert f"arp saddr ip {vip} arp saddr ip set {REAL}" in nft
    assert values == before[1]  # the rules replace the sysctls
    assert in_ns(netns, env, "sh", str(path), "status").returncode == 0
    after_one = snapshot(netns)
    assert in_ns(netns, env, "sh", str(path), "start").returncode == 0
    assert snapshot(netns) == after_one
    assert in_ns(netns, env, "sh", str(path), "stop").returncode == 0
    assert snapshot(netns) == before


def test_a_host_that_is_none_of_the_real_servers_is_refused(netns, tmp_path):
    path = tmp_path / "lvsadmin-realserver"
    path.write_text(render_script(plan_for_real(config(), "mysql2")))  # 192.0.2.242
    env = {**os.environ, "LVSADMIN_REALSERVER_STATE": str(tmp_path / "state")}
    before = snapshot(netns)
    started = in_ns(netns, env, "sh", str(path), "start")
    assert started.returncode == 1 and "192.0.2.242" in started.stderr
    assert snapshot(netns) == before


def test_the_nat_status_names_a_default_gateway_that_is_not_the_nat_router(netns, tmp_path):
    text = config("nat", extra_global="nat_router = 192.0.2.254 eth1:1\n")
    path = tmp_path / "lvsadmin-realserver"
    path.write_text(render_script(plan_for_real(text, "mysql1")))
    env = {**os.environ, "LVSADMIN_REALSERVER_STATE": str(tmp_path / "state")}
    run("ip", "-n", netns, "route", "add", "default", "via", "192.0.2.1")
    status = in_ns(netns, env, "sh", str(path), "status")
    assert status.returncode == 1
    assert "the default gateway is 192.0.2.1, not the NAT router 192.0.2.254" in status.stdout
    started = in_ns(netns, env, "sh", str(path), "start")
    assert started.returncode == 1 and "ip route replace default via 192.0.2.254" in started.stderr
    assert "default via 192.0.2.1" in run("ip", "-n", netns, "route").stdout  # not changed
    run("ip", "-n", netns, "route", "replace", "default", "via", "192.0.2.254")
    assert in_ns(netns, env, "sh", str(path), "status").returncode == 0
