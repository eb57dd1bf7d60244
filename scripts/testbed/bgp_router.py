"""The upstream router of the lab's directors active at once (BGP): a namespace on the lab's
bridge running a plain BIRD (configured here, as a network team's router would be: `merge paths
on`, L4 multipath hash), with the lab's client behind it on a network of its own, so that the
client reaches the VIP only through the routes the directors announce. The direct-routing real
servers answer the client through it.

What the directors' side needs to match it: their lvs.cf's BGP keys (`lvs_cf_keys`) and their
addresses on the bridge, given to `Router`."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from scripts.testbed.topology import BRIDGE, REAL_SERVERS, VIP, add_namespace, run, sysctl

ROUTER, ROUTER_LEG = "bgprt", "192.0.2.250"  # the router's leg on the directors' segment
CLIENT_NS, CLIENT_IP, CLIENT_GW = "bgpcl", "203.0.113.10", "203.0.113.1"
LOCAL_AS, ROUTER_AS = 64512, 64513

# A route's coming and going waits up to this: BIRD waits 60 s (its `error wait time`) before it
# reconnects a session that BFD took down, and under QEMU's emulation on a loaded host the VM can
# stall past BFD's 0.9 s (one run: both of the router's sessions down at once, then a minute's
# wait, beyond the 60 s this was). The bounds the product promises are checked apart.
SETTLE = 60.0 + 30.0


def lvs_cf_keys(hold_time: int = 3, bfd: bool = True) -> str:
    """The directors' BGP keys in lvs.cf's global section, matching a Router with the same
    `hold_time` and `bfd`."""
    return (
        f"bgp = 1\nbgp_local_as = {LOCAL_AS}\nbgp_router = {ROUTER_LEG}\n"
        f"bgp_router_as = {ROUTER_AS}\nbgp_hold_time = {hold_time}\n"
        # BFD at 300 ms x 3: with the default 100 ms, one lab run saw the route not move within
        # 60 s of the death (BIRD waits a minute before it reconnects a session BFD took down,
        # and a busy guest under QEMU's emulation misses 100 ms timers). Still under a second.
        + ("bgp_bfd_interval = 300\n" if bfd else "bgp_bfd = 0\n")
    )


# The router's kernel table is rescanned every 2 s (BIRD's default is 60 s): one run in three
# saw the route to the dead director stay in the router's kernel for 58 s, near that default,
# while the hold time is 3 s; a rescan puts BIRD's own table back into the kernel. Routes' times
# to the millisecond (`show route`).
def router_conf(directors: dict[str, str], log: Path, hold_time: int = 3, bfd: bool = True) -> str:
    peers = "".join(
        f"""protocol bgp {name} {{
  local {ROUTER_LEG} as {ROUTER_AS};
  neighbor {address} as {LOCAL_AS};
  hold time {hold_time};
  bfd {"on" if bfd else "off"};
  ipv4 {{ import all; export none; }};
}}
"""
        for name, address in directors.items()
    )
    return f"""router id {ROUTER_LEG};
log "{log}" all;
debug protocols {{ states, events }};
timeformat route iso long ms;
protocol device {{ }}
protocol kernel {{ scan time 2; ipv4 {{ export all; }}; merge paths on; }}
protocol bfd {{ interface "*" {{ interval 300 ms; multiplier 3; }}; }}
{peers}"""


class Router:
    """The router and its client; `directors`: each director's name (its BGP protocol's name
    here) and address on the bridge; `hold_time` and `bfd` as the directors' lvs.cf says
    (lvs_cf_keys)."""

    def __init__(
        self, base: Path, directors: dict[str, str], hold_time: int = 3, bfd: bool = True
    ) -> None:
        self.base = base
        self.directors = directors
        self.hold_time, self.bfd = hold_time, bfd
        self.socket = base / "router.ctl"
        self.log = base / "router.log"

    def build(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        add_namespace(ROUTER, BRIDGE, f"{ROUTER_LEG}/24")
        run("ip", "netns", "add", CLIENT_NS)
        run("ip", "-n", ROUTER, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0",
            "netns", CLIENT_NS)  # fmt: skip
        run("ip", "-n", ROUTER, "addr", "add", f"{CLIENT_GW}/24", "dev", "eth1")
        run("ip", "-n", ROUTER, "link", "set", "eth1", "up")
        run("ip", "-n", CLIENT_NS, "link", "set", "lo", "up")
        run("ip", "-n", CLIENT_NS, "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
        run("ip", "-n", CLIENT_NS, "link", "set", "eth0", "up")
        run("ip", "-n", CLIENT_NS, "route", "add", "default", "via", CLIENT_GW)
        sysctl("net.ipv4.ip_forward", "1", ns=ROUTER)
        sysctl("net.ipv4.fib_multipath_hash_policy", "1", ns=ROUTER)  # L4: flows spread
        # DR: the real servers answer the client directly, through the router.
        for ns in REAL_SERVERS:
            run("ip", "route", "add", "203.0.113.0/24", "via", ROUTER_LEG, ns=ns)
        conf = self.base / "router.conf"
        conf.write_text(router_conf(self.directors, self.log, self.hold_time, self.bfd))
        run("bird", "-c", str(conf), "-s", str(self.socket), "-P", str(self.base / "router.pid"),
            ns=ROUTER)  # fmt: skip

    def teardown(self) -> None:
        try:
            os.kill(int((self.base / "router.pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        for ns in REAL_SERVERS:
            run("ip", "route", "del", "203.0.113.0/24", ns=ns, check=False)
        for ns in (ROUTER, CLIENT_NS):
            run("ip", "netns", "del", ns, check=False)

    def nexthops(self) -> list[str]:
        """The VIP's nexthops in the router's kernel table (where the client's packets go)."""
        text = run("ip", "route", "show", f"{VIP}/32", ns=ROUTER).stdout
        # One path: `VIP via A dev eth0 ...`; several: a `nexthop via A ...` line each.
        return sorted(re.findall(r"\bvia (\S+)", text))

    def bird_routes(self) -> str:
        return run("birdc", "-s", str(self.socket), "show", "route", f"{VIP}/32",
                   check=False).stdout  # fmt: skip

    def paths(self) -> dict[str, str]:
        """The VIP's paths in the router's BIRD (`birdc show route`): each director's address
        and since when BIRD holds its path (local time, to the millisecond, within a few of
        them: BIRD converts its monotonic time). A path withdrawn and announced again gets a
        new time; an update that changes nothing keeps the old one."""
        # 192.0.2.240/32  unicast [dir1 2026-12-06 10:01:02.345] * (100) [AS64512i]
        #     via 192.0.2.11 on eth0
        found = re.findall(r"\[\S+ ([^\]]+)\][^\n]*\n\s+via (\S+)", self.bird_routes())
        return {address: since for since, address in found}

    def state(self) -> str:
        """What the router knows, for a failure's message."""
        sessions = run("birdc", "-s", str(self.socket), "show", "protocols", "all",
                       check=False).stdout  # fmt: skip
        kernel = run("ip", "route", "show", f"{VIP}/32", ns=ROUTER, check=False).stdout
        try:  # the sessions' and BFD's state changes, with their times
            log = "".join(self.log.read_text().splitlines(True)[-40:])
        except OSError as exc:
            log = f"(no log: {exc.strerror})"
        return f"{sessions}\n{self.bird_routes()}\nip route: {kernel}\nlog:\n{log}"
