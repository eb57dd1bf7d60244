"""Two directors through VRRP (keepalived), each a whole installation in its own namespace
(gunicorn, the worker, keepalived; its own database and state directory), as a sysadmin runs
them: the VIP on exactly one, a publish on the active director followed by the standby (revision
and kernel table), a hard death replaced within deadtime + 1 s with the client's neighbour entry
moved, new MySQL connections through the survivor, and a held MySQL connection surviving through
the sync daemon.

Not here yet (proven on the host with keepalived in namespaces, but not yet passed in this VM):
the dead director's return without fail-back, the GUI hand-over, monitor_links, and the held
connection breaking without the sync daemon.

Each boot starts Django processes under emulation (minutes), so the scenes follow each other on
one pair. Timers: keepalive 1 s, deadtime 4 s (VRRP's takeover: 3 adverts + skew = 3.6 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.lab.topology import Topology, query_one
from tests.lab.two_directors import (
    DEADTIME,
    KEEPALIVE,
    Director,
    TableWatcher,
    VipSampler,
    apply,
    boot,
    client_neighbour,
    connect_through_vip,
    connections,
    held_connection,
    ipvs_table,
    latest_serial,
    mac,
    make_pair,
    real_server_ids,
    say,
    steady,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
# The promise is 2 s from the Apply to the standby's revision and table; the host test with the
# same processes (tests/monitoring/test_peersync_two_directors.py) holds it (0.3-0.8 s). Here
# Python runs some 30 times slower (QEMU without KVM) and the chain measured 1.4-1.8 s to the
# revision and 1.7-2.4 s to the table: the bound below is the promise with room for the
# emulation on a loaded machine, not the promise.
FOLLOW_WITHIN = 10.0


@pytest.fixture
def pair(tmp_path, topology: Topology) -> Iterator[dict[str, Director]]:
    directors = make_pair(tmp_path)
    yield directors
    for director in directors.values():
        director.shutdown()
        # Shown for a failure (and in the lab's pytest.log, which runs with -s).
        print(f"--- {director.name} ({director.role()}):\n{director.log_tail(40)}")


def test_two_directors_follow_fail_over_hand_over_and_keep_connections(pair):
    dir1, dir2 = pair["dir1"], pair["dir2"]
    everyone = [dir1, dir2]
    took = boot(dir1, dir2, everyone=everyone)
    say(f"both directors up (GUI answering, keepalived running) after {took:.0f} s")

    # --- steady state: the VIP on one director, both tables loaded --------------------------
    sampler = VipSampler([d.name for d in everyone]).start()
    active, standby = steady(pair, sampler)
    assert ipvs_table(active) == ipvs_table(standby)
    say(f"steady: {active.name} active, {standby.name} standby, tables equal")

    # --- a publish on the active director reaches the standby --------------------------------
    gui = active.client()
    virtual, rs2 = real_server_ids(active, "rs2")
    watcher = TableWatcher(standby.name).start()
    for step, servers in (("rs2 out", 1), ("rs2 back", 2)):
        assert gui.request("GET", f"/virtual/{virtual}/real/")[0] == 200
        assert gui.request("POST", f"/virtual/{virtual}/real/{rs2}/toggle/", {})[0] == 302
        sent = time.monotonic()
        serial = apply(active, gui, step)  # returns once the revision is published
        published = time.monotonic()
        wait_for(lambda s=serial: latest_serial(standby) == s, 120,
                 f"serial {serial} ({step}) on the standby", everyone)  # fmt: skip
        revision = time.monotonic() - published
        wait_for(lambda n=servers, p=published: watcher.first(n, p) is not None, 120,
                 f"the standby's table after serial {serial}", everyone)  # fmt: skip
        table = watcher.first(servers, published) - published
        say(f"publish '{step}' (Apply took {published - sent:.2f} s): serial {serial} on the "
            f"standby {revision:.2f} s after it was published, its table {table:.2f} s after")  # fmt: skip
        wait_for(lambda: ipvs_table(standby) == ipvs_table(active), 30,
                 "the same table on both (ipvsadm)", everyone)  # fmt: skip
        assert ipvs_table(standby).count("-> 192.0.2.24") == servers
        assert max(revision, table) <= FOLLOW_WITHIN, f"the standby followed after {table:.2f} s"
    watcher.stop()
    say("GUI requests: " + ", ".join(f"{what} {seconds:.1f} s" for what, seconds in gui.timings))

    # --- the active director dies hard; the sync daemon keeps a held connection ------------
    held, end = held_connection()
    assert client_neighbour() == mac(active)
    # The master sync daemon flushes a partly filled buffer every 2 s.
    wait_for(lambda: end in connections(standby), 30,
             "the held connection reaching the standby's table", everyone)  # fmt: skip
    died = time.monotonic()
    active.die()
    sampler.forget(active.name)
    took = wait_for(lambda: sampler.holders() == {standby.name}, DEADTIME + 1,
                    "the standby taking the VIP", everyone)  # fmt: skip
    say(f"hard death: the standby held the VIP {took:.2f} s later (deadtime {DEADTIME} s)")
    wait_for(lambda: client_neighbour() == mac(standby), 5, "the client's ARP entry")
    say(f"the client's neighbour entry moved {time.monotonic() - died:.2f} s after the death")
    assert query_one(held, "SELECT 1") == (1,), "the held connection survived (sync daemon)"
    held.close()
    connect_through_vip(5).close()
    wait_for(lambda: standby.role() == "active", 120, "the survivor's role file", everyone)

    sampler.stop()
    overlap = sampler.longest_overlap()
    say(f"longest time both directors held the VIP: {overlap:.2f} s over "
        f"{len(sampler.samples)} samples")  # fmt: skip
    assert overlap <= KEEPALIVE
