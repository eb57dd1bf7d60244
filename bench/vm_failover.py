"""Director failover as a MySQL client sees it, VRRP's active + standby beside BGP's directors
active at once, in one run in the lab VM as root (`make bench` runs every bench/vm_*.py there).

The VRRP pair: two directors as tests/lab/test_two_directors.py runs them (each gunicorn, the
worker and keepalived in its own namespace), the lab's two MariaDB real servers, and a client on
the lab's bridge. The BGP pair: the same two installations in BGP mode (scripts/testbed/
two_directors.py, `make_pair(bgp=True)`, as tests/lab/test_bgp_follow.py), each worker running
BIRD towards the lab's router namespace (scripts/testbed/bgp_router.py, a plain BIRD with
`merge paths on`) with BFD at 300 ms x 3 and a 3 s hold time; the client is the router's
(bgpcl, 203.0.113.10), behind it, so that it reaches the VIP only through the announced routes.

Each death is a hard one: kill -9 of everything in the director's namespace, its link gone (as
a machine losing power); the dead director is booted again before the next one. VRRP: the
active director dies, the standby takes over, the dead one returns as standby, so the deaths
alternate. BGP: dir1 and dir2 die by turns; the router drops the dead one's nexthop when BFD
says so. Measured for each, the same way for both pairs:
- the move: VRRP, from the death to the standby holding the VIP (sampled every 100 ms); BGP, to
  the router's kernel route with the survivor as its only nexthop (`ip monitor route` in the
  router's namespace, each event timed as it is read);
- client-visible outage: a probe is a new TCP connection through the VIP, answered by a real
  server's MySQL greeting, sent every 50 ms whatever the earlier ones still wait for, each given
  2 s; one is hurt when unanswered or answered later than SLOW (a lost SYN is sent again a
  second later). The outage runs from the sending of the first hurt probe to the first answer
  to a probe sent after the last hurt one (of those sent from the kill to a second after the
  move): from then on every new connection works. It does not lean on when the death happened
  (the kill and the link's deletion are `ip` processes, a second each under emulation). With
  VRRP every probe in it is hurt; with BGP only those the router still sent to the dead
  director, so how many were hurt is printed too;
- held connections: of HELD (VRRP) or BGP_HELD (BGP) MySQL connections opened through the VIP
  before the death, how many run a query on the same connection after it (BGP: on the same real
  server; and how many of them had gone through the dead director).
The BGP pair first: once both directors announce, connections per second (issue 20's item 8):
new TCP connections through the VIP answered by a MySQL greeting (no login: a PyMySQL login per
connection would measure the client's emulated CPU), CPS_CONCURRENCY kept under way from the
router's client for CPS_SECONDS, through both directors announcing and through one (dir2 taken
out of service, as the operator's button does), CPS_ROUNDS times each by turns. Under QEMU/TCG
every namespace (client, router, directors, real servers) shares the VM's emulated CPUs, so a
second director adds no CPU: the ratio shows that both carry the flows, not that capacity
doubles. Then FAILOVERS BGP deaths, without any sync daemon. Then the VRRP pair: FAILOVERS
deaths with the sync daemon on, then as many with it off (unticked in REDUNDANCY on the active
director's GUI and applied, as an operator would). Goals: BGP's outage under 1 s and every held
connection surviving; VRRP's outage under deadtime + 1 s and every held connection surviving
with the sync daemon.

Exits 0 when it ran; a missed goal is printed as MISSED.

    LVSADMIN_BENCH_FAILOVERS=5 LAB_MODE=bench scripts/lab.sh bench/vm_failover.py   (default 2)
    LVSADMIN_BENCH_PAIRS=bgp ...   only the BGP pair (vrrp: only VRRP's; default both)
    LVSADMIN_BENCH_CPS_SECONDS=10 LVSADMIN_BENCH_CPS_ROUNDS=2 LVSADMIN_BENCH_CPS_CONCURRENCY=16
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATE = Path(tempfile.mkdtemp(prefix="lvsadmin-failover-"))
(STATE / "seed").mkdir()
os.environ["LVSADMIN_STATE_DIR"] = str(STATE / "seed")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lvsadmin.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from monitoring.bgp.service import set_out_of_service  # noqa: E402
from scripts.testbed import bgp_router  # noqa: E402
from scripts.testbed.bgp_router import ROUTER, SETTLE, Router  # noqa: E402
from scripts.testbed.topology import (  # noqa: E402
    CLIENT,
    MYSQL_PORT,
    VIP,
    build,
    call_in_netns,
    mysql_connect,
    query_one,
    run,
    teardown,
)
from scripts.testbed.two_directors import (  # noqa: E402
    DEADTIME,
    DIRECTORS,
    Director,
    VipSampler,
    apply,
    boot,
    connections,
    enter_netns,
    held_connection,
    ipvs_table,
    make_pair,
    redundancy_form,
    say,
    steady,
    sync_daemons,
    wait_for,
)

FAILOVERS = int(os.environ.get("LVSADMIN_BENCH_FAILOVERS", "2"))
PAIRS = os.environ.get("LVSADMIN_BENCH_PAIRS", "both")
CPS_SECONDS = float(os.environ.get("LVSADMIN_BENCH_CPS_SECONDS", "10"))
CPS_ROUNDS = int(os.environ.get("LVSADMIN_BENCH_CPS_ROUNDS", "2"))
CPS_CONCURRENCY = int(os.environ.get("LVSADMIN_BENCH_CPS_CONCURRENCY", "16"))
HELD = 8
BGP_HELD = 16
# The BGP pair's sessions: BFD at 300 ms x 3 (bgp_router.lvs_cf_keys), a 3 s hold time.
BGP_HOLD_TIME, BGP_BFD = 3, True
BGP_GOAL = 1.0
PROBE_EVERY = 0.05
PROBE_TIMEOUT = 2.0
# A probe answered later than this was hurt: a SYN lost and sent again is answered a second
# later (Linux's initial retransmission timeout).
SLOW = 0.9
SYNC_WAIT = 60  # seconds for the held connections to reach the standby (measured, not fatal)


def greeted(probe: socket.socket) -> bool:
    """Whether a real server's MySQL greeting arrived on a connected probe."""
    try:
        greeting = probe.recv(64)
    except OSError:  # refused or reset: not answered
        return False
    # A MySQL packet: 3 bytes length, 1 sequence number, then protocol version 10.
    return len(greeting) > 4 and greeting[4] == 10


def open_probe(pending: selectors.BaseSelector, now: float) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setblocking(False)
    probe.connect_ex((VIP, MYSQL_PORT))
    pending.register(probe, selectors.EVENT_READ, now)


def expired(pending: selectors.BaseSelector) -> list[float]:
    """Closes the probes older than PROBE_TIMEOUT; when each was sent."""
    sent = []
    for key in list(pending.get_map().values()):
        if time.monotonic() - key.data > PROBE_TIMEOUT:
            pending.unregister(key.fileobj)
            key.fileobj.close()
            sent.append(key.data)
    return sent


class Prober(threading.Thread):
    """A new TCP connection through the VIP from namespace `ns` every PROBE_EVERY seconds,
    whatever the earlier ones still wait for (PROBE_TIMEOUT), answered when a real server's
    MySQL greeting arrives on it: so the first answer after a failover is to a probe sent within
    PROBE_EVERY of the service coming back. One thread with non-blocking sockets: a MySQL login
    per probe (PyMySQL) costs so much CPU under emulation that 20 a second slowed the directors
    themselves. Records (sent, answered or None) of each probe once it is settled."""

    def __init__(self, ns: str = CLIENT) -> None:
        super().__init__(daemon=True)
        self.ns = ns
        self.probes: list[tuple[float, float | None]] = []
        self.lock = threading.Lock()
        self.stopping = False

    def run(self) -> None:
        enter_netns(self.ns)
        pending = selectors.DefaultSelector()
        next_probe = time.monotonic()
        while not self.stopping:
            now = time.monotonic()
            if now >= next_probe:
                open_probe(pending, now)
                next_probe += PROBE_EVERY
            for key, _ in pending.select(timeout=max(0.0, next_probe - time.monotonic())):
                answered = time.monotonic() if greeted(key.fileobj) else None
                pending.unregister(key.fileobj)
                key.fileobj.close()
                with self.lock:
                    self.probes.append((key.data, answered))
            with self.lock:
                self.probes.extend((sent, None) for sent in expired(pending))

    def answering(self) -> bool:
        """Whether a probe was answered within the last second."""
        with self.lock:
            return any(at is not None and at > time.monotonic() - 1 for _, at in self.probes)

    def outage(self, killing: float, moved: float, directors) -> Outage:
        """The client-visible outage of a death begun at `killing` (before its kill and its
        link's deletion, which take a second or two of `ip` processes under emulation) whose
        path was back at `moved` (see the module). Waits until every probe that counts is
        settled."""
        until = moved + 1.0
        wait_for(lambda: time.monotonic() > until + PROBE_TIMEOUT + 0.5, 30 + PROBE_TIMEOUT,
                 "the probes settled", directors)  # fmt: skip
        with self.lock:
            window = [(s, at) for s, at in self.probes if killing < s <= until]
        hurt = sorted(s for s, at in window if at is None or at - s > SLOW)
        if not hurt:
            return Outage(0.0, 0, len(window), None)

        def back() -> float | None:
            with self.lock:
                return min((at for s, at in self.probes if s > hurt[-1] and at is not None),
                           default=None)  # fmt: skip

        wait_for(lambda: back() is not None, 30, "a probe answered after the death", directors)
        came_back = back()
        assert came_back is not None
        return Outage(came_back - hurt[0], len(hurt), len(window), hurt[0])


@dataclass
class Outage:
    """From the first hurt probe's sending to the first answer to a probe sent after the last
    hurt one (0 when none was hurt); the probes hurt and sent from the kill to a second after
    the move; when the first hurt one was sent."""

    length: float
    hurt: int
    sent: int
    first_hurt: float | None


def connection_rate(ns: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """New TCP connections through the VIP answered by a MySQL greeting, per second, from
    namespace `ns`, keeping `concurrency` under way for `seconds` (each closed once greeted and
    replaced at once); and how many were not answered within PROBE_TIMEOUT."""

    def measure() -> tuple[float, int]:
        pending = selectors.DefaultSelector()
        started = time.monotonic()
        for _ in range(concurrency):
            open_probe(pending, started)
        answered = failed = 0
        while time.monotonic() - started < seconds:
            for key, _ in pending.select(timeout=0.1):
                ok = greeted(key.fileobj)
                answered, failed = answered + ok, failed + (not ok)
                pending.unregister(key.fileobj)
                key.fileobj.close()
                open_probe(pending, time.monotonic())
            for _ in expired(pending):
                failed += 1
                open_probe(pending, time.monotonic())
        took = time.monotonic() - started
        for key in list(pending.get_map().values()):
            key.fileobj.close()
        return answered / took, failed

    return call_in_netns(ns, measure)


def survives(connection, server: int | None = None) -> bool:
    """Whether the held connection still answers (on real server `server` when given)."""
    try:
        (answer,) = query_one(connection, "SELECT @@server_id" if server else "SELECT 1")
        return answer == (server or 1)
    except Exception:  # noqa: BLE001 (a broken connection is what is counted)
        return False
    finally:
        connection.close()


@dataclass
class Death:
    """One hard death's figures: the move (VIP or route), the client-visible outage, the probes
    hurt and sent in it, and the held connections surviving (of `held`, `through` of them
    through the dead director)."""

    moved: float
    outage: float
    hurt: int
    sent: int
    survived: int
    held: int
    through: int | None = None
    first_hurt: float | None = None  # when the first hurt probe was sent, from the death


def death(died: float, moved: float, outage: Outage, survived: int, held: int,
          through: int | None = None) -> Death:  # fmt: skip
    first = None if outage.first_hurt is None else outage.first_hurt - died
    return Death(moved, outage.length, outage.hurt, outage.sent, survived, held, through, first)


# --- VRRP ------------------------------------------------------------------------------------
def failover(pair, sampler, prober, sync: bool) -> Death:
    """One hard death of the active director: the VIP's move, the client's outage and the held
    connections surviving."""
    everyone = list(pair.values())
    active, standby = steady(pair, sampler)
    held = [held_connection() for _ in range(HELD)]
    opened = time.monotonic()
    if sync:  # the master sync daemon flushes a partly filled buffer every 2 s
        try:
            wait_for(lambda: all(end in connections(standby) for _, end in held), SYNC_WAIT,
                     "the held connections in the standby's table", everyone)  # fmt: skip
            say(f"held connections in the standby's table {time.monotonic() - opened:.1f} s "
                "after they were opened")  # fmt: skip
        except AssertionError:  # measured, not fatal: the count below says what it cost
            synced = sum(end in connections(standby) for _, end in held)
            say(f"only {synced}/{HELD} held connections in the standby's table after "
                f"{SYNC_WAIT} s")  # fmt: skip
    else:
        time.sleep(2.5)
    wait_for(prober.answering, 10, "the prober answering before the death", everyone)
    killing = time.monotonic()
    died = active.die()
    sampler.forget(active.name)
    wait_for(lambda: sampler.holders() == {standby.name}, 30, "the takeover", everyone)
    time.sleep(2 * sampler.every)  # recorded
    moved = sampler.first({standby.name}, after=died) - died
    outage = prober.outage(killing, died + moved, everyone)
    survived = sum(survives(connection) for connection, _ in held)
    result = death(died, moved, outage, survived, HELD)
    say(f"{active.name} died: VIP on {standby.name} after {moved:.2f} s, {said(result)} (sync "
        f"daemon {'on' if sync else 'off'})")  # fmt: skip
    boot(active, everyone=everyone)
    sampler.watch_again(active.name)
    wait_for(lambda: active.role() == "standby", 180, "the dead director back as standby",
             everyone)  # fmt: skip
    return result


def sync_off(pair, sampler) -> None:
    everyone = list(pair.values())
    active, standby = steady(pair, sampler)
    gui = active.client()
    gui.request("GET", "/redundancy/")
    assert gui.request("POST", "/redundancy/", redundancy_form(False, False))[0] == 302
    apply(active, gui, "sync daemon off")
    wait_for(lambda: not any(sync_daemons(d).strip() for d in everyone), 30,
             "both sync daemons stopped", everyone)  # fmt: skip


def said(death: Death) -> str:
    through = "" if death.through is None else f", {death.through} through the dead director"
    first = "" if death.first_hurt is None else f", the first sent {death.first_hurt:+.2f} s"
    return (
        f"client outage {death.outage:.2f} s ({death.hurt} of {death.sent} probes hurt from the "
        f"kill to a second after the move{first}), held connections surviving "
        f"{death.survived}/{death.held}{through}"
    )


def vrrp_pair(results: Results) -> None:
    """FAILOVERS hard deaths with the sync daemon on, then FAILOVERS with it off."""
    (STATE / "vrrp").mkdir()
    pair = make_pair(STATE / "vrrp")
    try:
        boot(*pair.values(), everyone=list(pair.values()))
        sampler = VipSampler(list(pair)).start()
        prober = Prober()
        prober.start()
        for sync in (True, False):
            if not sync:
                sync_off(pair, sampler)
            deaths = results.vrrp.setdefault(sync, [])
            deaths.extend(failover(pair, sampler, prober, sync) for _ in range(FAILOVERS))
        prober.stopping = True
        sampler.stop()
    finally:
        for director in pair.values():
            director.shutdown()


# --- BGP -------------------------------------------------------------------------------------
class RouteWatcher:
    """The router's kernel route to the VIP as it changes: `ip monitor route` in the router's
    namespace, each event timed as it is read (an `ip route` per look costs a second under
    emulation). A route with one nexthop prints as `VIP via ADDRESS dev ...`."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        # Line-buffered: `ip` writes to a pipe in blocks otherwise.
        self.process = subprocess.Popen(
            ["stdbuf", "-oL", "ip", "-n", ROUTER, "monitor", "route"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append((time.monotonic(), line.rstrip("\n")))

    def only(self, address: str, after: float) -> float | None:
        """When the route first had `address` as its only nexthop after `after`."""
        single = re.compile(rf"{re.escape(VIP)} via {re.escape(address)} ")
        return next((at for at, line in list(self.events) if at > after and single.match(line)),
                    None)  # fmt: skip

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def announcing(router: Router, pair: dict[str, Director], *names: str) -> None:
    """Waits until the router routes the VIP to exactly the directors `names` (both when none
    is given) and each announcing director's table holds both real servers."""
    everyone = list(pair.values())
    names = names or tuple(pair)
    wanted = sorted(pair[n].address for n in names)
    # Three times the router's own bound: a loaded VM can stall past BFD's 0.9 s, and a
    # session that BFD took down waits BIRD's 60 s `error wait time` on each side (flaps()).
    wait_for(lambda: router.nexthops() == wanted, 3 * SETTLE, f"the route through {names}",
             everyone)  # fmt: skip
    for name in names:
        wait_for(lambda d=pair[name]: ipvs_table(d).count("-> 192.0.2.24") == 2, 180,
                 f"{name}'s IPVS table", everyone)  # fmt: skip


def flaps(router: Router) -> int:
    """How many times the router's BFD took a session down (the deaths' included)."""
    try:
        return router.log.read_text().count("BFD session down")
    except OSError:
        return 0


def through(director: Director, held: list) -> int:
    """How many of the `held` connections the director's connection table holds."""
    ports = {connection._sock.getsockname()[1] for connection in held}
    table = connections(director)
    client = re.escape(bgp_router.CLIENT_IP)
    return len({int(p) for p in re.findall(rf"{client}:(\d+) ", table)} & ports)


def bgp_death(pair, router, routes, prober, victim: Director) -> Death:
    """One hard death of `victim` while both directors announce: the route's move, the
    client's outage and the held connections surviving (on the same real server)."""
    everyone = list(pair.values())
    (survivor,) = [d for d in everyone if d is not victim]
    announcing(router, pair)
    held = [mysql_connect(VIP, ns=bgp_router.CLIENT_NS, timeout=20) for _ in range(BGP_HELD)]
    servers = [query_one(connection, "SELECT @@server_id")[0] for connection in held]
    on_victim = through(victim, held)
    wait_for(prober.answering, 10, "the prober answering before the death", everyone)
    killing, killed_at = time.monotonic(), datetime.now()
    died = victim.die()
    wait_for(lambda: router.nexthops() == [survivor.address], SETTLE, "the route's move",
             everyone)  # fmt: skip
    seen = time.monotonic()
    moved = (routes.only(survivor.address, after=died) or seen) - died
    outage = prober.outage(killing, died + moved, everyone)
    survived = sum(survives(c, s) for c, s in zip(held, servers, strict=True))
    result = death(died, moved, outage, survived, BGP_HELD, on_victim)
    say(f"{victim.name} died: the router's route through {survivor.name} only after "
        f"{moved:.2f} s{'' if routes.only(survivor.address, died) else ' (polled)'}, "
        f"{said(result)} (no sync daemon); the router's log since the kill:\n"
        f"{router_log(router, victim, killed_at)}")  # fmt: skip
    boot(victim, everyone=everyone)
    return result


def router_log(router: Router, victim: Director, since: datetime) -> str:
    """The router's log lines on `victim`'s BFD and BGP session since `since` (its times are
    the VM's local time, to the millisecond)."""
    start = since.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
    lines = router.log.read_text(errors="replace").splitlines()
    mine = [line for line in lines if line[:23] >= start
            and (f"{victim.name}:" in line or victim.address in line)]  # fmt: skip
    return "\n".join(mine[:12])


def capacity(router: Router, pair: dict[str, Director], rates: dict[str, list[float]]) -> None:
    """Connections per second through both directors and through dir1 alone (dir2 out of
    service), CPS_ROUNDS times each by turns, into `rates`; each director's share is said."""
    flag = pair["dir2"].base / "bgp-out-of-service"  # its LVSADMIN_BGP_OUT_OF_SERVICE_FILE
    for _ in range(CPS_ROUNDS):
        for setup in ("both", "one"):
            set_out_of_service(flag, setup == "one")
            announcing(router, pair, *names(setup))
            before = {name: served(d) for name, d in pair.items()}
            rate, failed = connection_rate(bgp_router.CLIENT_NS, CPS_SECONDS, CPS_CONCURRENCY)
            time.sleep(2.5)  # the kernel publishes its counters every 2 s (rate estimator)
            shares = {name: served(d) - before[name] for name, d in pair.items()}
            # A BFD flap during the round changes the route under it.
            kept = router.nexthops() == sorted(pair[n].address for n in names(setup))
            say(f"through {setup}: {rate:.0f} connections/s ({failed} unanswered), each "
                f"director's connections {shares}"
                f"{'' if kept else '; the route changed during the round'}")  # fmt: skip
            rates.setdefault(setup, []).append(rate)
    set_out_of_service(flag, False)


def names(setup: str) -> tuple[str, ...]:
    return ("dir1",) if setup == "one" else ("dir1", "dir2")


def served(director: Director) -> int:
    """The VIP's connection count on the director since its table was loaded."""
    text = run("ipvsadm", "-L", "-n", "--stats", "--exact", ns=director.name).stdout
    return int(text.split("TCP")[1].split()[1])


def bgp_pair(results: Results) -> None:
    """The connection rates, then FAILOVERS hard deaths, dir1 and dir2 by turns."""
    router = Router(STATE / "topology" / "router", DIRECTORS, BGP_HOLD_TIME, BGP_BFD)
    (STATE / "bgp").mkdir()
    pair = make_pair(STATE / "bgp", bgp=True, bgp_timers=(BGP_HOLD_TIME, BGP_BFD))
    routes = None
    try:
        router.build()
        routes = RouteWatcher()
        boot(*pair.values(), everyone=list(pair.values()))
        capacity(router, pair, results.rates)
        prober = Prober(bgp_router.CLIENT_NS)
        prober.start()
        for n in range(FAILOVERS):
            victim = pair[("dir1", "dir2")[n % 2]]
            results.bgp.append(bgp_death(pair, router, routes, prober, victim))
        prober.stopping = True
    finally:
        say(f"the router's BFD took a session down {flaps(router)} times, {len(results.bgp)} "
            "of them for a death")  # fmt: skip
        for director in pair.values():
            director.shutdown()
        if routes is not None:
            routes.stop()
        say(f"the router:\n{router.state()}")
        router.teardown()


# --- the report ------------------------------------------------------------------------------
def summary(deaths: list[Death]) -> str:
    outages = [d.outage for d in deaths]
    moves = [d.moved for d in deaths]
    return (
        f"moved after median {statistics.median(moves):.2f} s ({min(moves):.2f}-"
        f"{max(moves):.2f}); client-visible outage median {statistics.median(outages):.2f} s "
        f"({min(outages):.2f}-{max(outages):.2f}); probes hurt {sum(d.hurt for d in deaths)} of "
        f"{sum(d.sent for d in deaths)} sent from the kills to a second after the moves; held "
        f"connections surviving "
        f"{sum(d.survived for d in deaths)}/{sum(d.held for d in deaths)}"
    )


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


@dataclass
class Results:
    """What a run measured so far (a crash prints what came before it)."""

    vrrp: dict[bool, list[Death]] = field(default_factory=dict)  # by the sync daemon on/off
    bgp: list[Death] = field(default_factory=list)
    rates: dict[str, list[float]] = field(default_factory=dict)  # "one", "both" directors


def report(results: Results) -> None:
    vrrp, bgp, rates = results.vrrp, results.bgp, results.rates
    print(f"hard deaths of a director, {FAILOVERS} each row")
    for sync, deaths in vrrp.items():
        if not deaths:
            continue
        goal = DEADTIME + 1
        print(f"  VRRP (deadtime {DEADTIME} s), sync daemon {'on ' if sync else 'off'}: "
              f"{summary(deaths)}")  # fmt: skip
        print(f"    goal outage < {goal} s: {verdict(max(d.outage for d in deaths) < goal)}")
        if sync:
            kept = all(d.survived == d.held for d in deaths)
            print(f"    goal every held connection survives: {verdict(kept)}")
    if bgp:
        print(f"  BGP (BFD 300 ms x 3, hold time {BGP_HOLD_TIME} s), no sync daemon: "
              f"{summary(bgp)}; of them through the dead director "
              f"{sum(d.through or 0 for d in bgp)}")  # fmt: skip
        print(f"    goal outage < {BGP_GOAL} s: {verdict(max(d.outage for d in bgp) < BGP_GOAL)}")
        kept = all(d.survived == d.held for d in bgp)
        print(f"    goal every held connection survives: {verdict(kept)}")
    if rates.get("one") and rates.get("both"):
        one, both = statistics.median(rates["one"]), statistics.median(rates["both"])
        print(
            f"new TCP connections through the VIP answered by a MySQL greeting, "
            f"{CPS_CONCURRENCY} under way, {CPS_SECONDS:.0f} s x {CPS_ROUNDS}: through one "
            f"director {one:.0f}/s ({', '.join(f'{r:.0f}' for r in rates['one'])}), through "
            f"two {both:.0f}/s ({', '.join(f'{r:.0f}' for r in rates['both'])}), ratio "
            f"{both / one:.2f}"
        )
        print(
            "  what the emulation hides: QEMU/TCG on one machine, every namespace (client, "
            "router, both directors, both real servers) on the same emulated CPUs: a second "
            "director adds no CPU here, so the ratio shows both carrying flows, not capacity "
            "doubling"
        )


def main() -> int:
    call_command("migrate", verbosity=0)
    topology = build(STATE / "topology")
    results = Results()
    crashed = False
    try:
        topology.start_all()
        # BGP first: its figures are the new ones, and a crash of one pair leaves the other's.
        for name, measure in (("bgp", bgp_pair), ("vrrp", vrrp_pair)):
            if PAIRS in ("both", name):
                try:
                    measure(results)
                except Exception:  # noqa: BLE001 (the other pair still runs; exit code 1)
                    traceback.print_exc()
                    crashed = True
    finally:
        teardown(topology)
        report(results)
    return int(crashed)


if __name__ == "__main__":
    raise SystemExit(main())
