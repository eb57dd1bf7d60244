"""Director failover as a MySQL client sees it, in the lab VM as root (`make bench` runs every
bench/vm_*.py there): two directors as tests/lab/test_two_directors.py runs them (each gunicorn,
the worker and keepalived in its own namespace), the lab's two MariaDB real servers, and a client
on the lab's bridge.

Each failover: the active director dies hard (kill -9 of everything in its namespace, its link
gone), the standby takes over, and the dead one is booted again (it returns as standby: no
fail-back), so the next failover goes the other way. Measured for each:
- the VIP's move: from the death to the standby holding the VIP (sampled every 100 ms);
- outage: from the client's last successful query before the death to its first one after (a
  new connection per probe, one probe every 50 ms, 1 s connect timeout);
- held connections: of HELD connections opened through the active director before the death
  (each has run a few queries), how many run a query on the same connection after it.
FAILOVERS failovers with the sync daemon on, then as many with it off (unticked in REDUNDANCY on
the active director's GUI and applied, as an operator would). Goal: every outage under deadtime +
1 s, and every held connection survives with the sync daemon; exits 1 when a goal is missed.
Timers as in the test: keepalive 1 s, deadtime 4 s.

    LAB_MODE=bench scripts/lab.sh bench/vm_failover.py     (LVSADMIN_BENCH_FAILOVERS=2)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
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

from tests.lab.topology import VIP, build, mysql_connect, query_one, teardown  # noqa: E402
from tests.lab.two_directors import (  # noqa: E402
    DEADTIME,
    Director,
    VipSampler,
    apply,
    boot,
    connections,
    held_connection,
    make_pair,
    redundancy_form,
    say,
    steady,
    sync_daemons,
    wait_for,
)

FAILOVERS = int(os.environ.get("LVSADMIN_BENCH_FAILOVERS", "2"))
HELD = 8
PROBE_EVERY = 0.05
SYNC_WAIT = 60  # seconds for the held connections to reach the standby (measured, not fatal)


class Prober(threading.Thread):
    """New MySQL connections through the VIP from the client, one every PROBE_EVERY seconds;
    the times of the successful ones."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.successes: list[float] = []
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            try:
                connection = mysql_connect(VIP, timeout=1)
                query_one(connection, "SELECT 1")
                connection.close()
                self.successes.append(time.monotonic())
            except Exception:  # noqa: BLE001 (a failed probe is the outage being measured)
                pass
            time.sleep(PROBE_EVERY)

    def last_before(self, moment: float) -> float:
        return max(t for t in self.successes if t <= moment)

    def first_after(self, moment: float) -> float | None:
        return next((t for t in self.successes if t > moment), None)


def survives(connection) -> bool:
    try:
        return query_one(connection, "SELECT 1") == (1,)
    except Exception:  # noqa: BLE001 (a broken connection is what is counted)
        return False
    finally:
        connection.close()


def failover(pair, sampler, prober, sync: bool) -> tuple[float, float, int]:
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
    wait_for(lambda: prober.successes and prober.successes[-1] > time.monotonic() - 1, 10,
             "the prober answering before the death", everyone)  # fmt: skip
    died = time.monotonic()
    active.die()
    sampler.forget(active.name)
    wait_for(lambda: sampler.holders() == {standby.name}, 30, "the takeover", everyone)
    time.sleep(2 * sampler.every)  # recorded
    moved = sampler.first({standby.name}, after=died) - died
    wait_for(lambda: prober.first_after(died) is not None, 30, "a probe after it", everyone)
    outage = prober.first_after(died) - prober.last_before(died)
    survived = sum(survives(connection) for connection, _ in held)
    say(f"{active.name} died: VIP on {standby.name} after {moved:.2f} s, client outage "
        f"{outage:.2f} s, held connections surviving {survived}/{HELD} (sync daemon "
        f"{'on' if sync else 'off'})")  # fmt: skip
    boot(active, everyone=everyone)
    sampler.watch_again(active.name)
    wait_for(lambda: active.role() == "standby", 180, "the dead director back as standby",
             everyone)  # fmt: skip
    return moved, outage, survived


def sync_off(pair, sampler) -> None:
    everyone = list(pair.values())
    active, standby = steady(pair, sampler)
    gui = active.client()
    gui.request("GET", "/redundancy/")
    assert gui.request("POST", "/redundancy/", redundancy_form(False, False))[0] == 302
    apply(active, gui, "sync daemon off")
    wait_for(lambda: not any(sync_daemons(d).strip() for d in everyone), 30,
             "both sync daemons stopped", everyone)  # fmt: skip


def main() -> int:
    call_command("migrate", verbosity=0)
    topology = build(STATE / "topology")
    pair: dict[str, Director] = {}
    try:
        topology.start_all()
        pair = make_pair(STATE)
        boot(*pair.values(), everyone=list(pair.values()))
        sampler = VipSampler(list(pair)).start()
        prober = Prober()
        prober.start()
        results = {}
        for sync in (True, False):
            if not sync:
                sync_off(pair, sampler)
            results[sync] = [failover(pair, sampler, prober, sync) for _ in range(FAILOVERS)]
        prober.stopping = True
        sampler.stop()
    finally:
        for director in pair.values():
            director.shutdown()
        teardown(topology)
    goal = DEADTIME + 1
    met = True
    print(f"failover of the active director, {FAILOVERS} times each way; deadtime {DEADTIME} s")
    for sync, runs in results.items():
        moves = [moved for moved, _, _ in runs]
        outages = [outage for _, outage, _ in runs]
        survived = sum(s for _, _, s in runs)
        print(
            f"  sync daemon {'on ' if sync else 'off'}: VIP moved after median "
            f"{statistics.median(moves):.2f} s, max {max(moves):.2f} s; client-visible outage "
            f"median {statistics.median(outages):.2f} s, max {max(outages):.2f} s (goal < "
            f"{goal} s); held connections surviving {survived}/{HELD * len(runs)}"
        )
        met &= max(outages) < goal and (survived == HELD * len(runs) or not sync)
    print(f"  goal {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
