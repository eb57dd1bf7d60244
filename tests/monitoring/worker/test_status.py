"""The worker's status writer (monitoring.worker.status) against the database."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from monitoring.checks.health import ServerHealth
from monitoring.checks.probes import CheckSpec
from monitoring.models import RealServerHealth, WorkerStatus
from monitoring.worker.status import Enforced, HealthSnapshot, StatusWriter
from tests.support.concurrency import DeadlockOnce, InsertRace, at_once
from virtualservers.lvsconf.model import RealServerRef

# The kernel side as the status writer sees it, with nothing held and the metrics file not written.
NO_KERNEL = SimpleNamespace(
    ok=True,
    message="",
    driver=None,
    dump=lambda: None,
    held={},
    driver_name="memory",
    state_path=None,
    metrics=SimpleNamespace(publish=lambda *args, **kwargs: None),
)
SERVERS = [RealServerRef("www", f"192.0.2.{n}", 80) for n in range(1, 101)]


def snapshot(refs: list[RealServerRef], up: bool, reason: str) -> HealthSnapshot:
    now = time.time()
    states = [
        ServerHealth(ref, CheckSpec(), 1, up=up, since=now, last_check=now, reason=reason)
        for ref in refs
    ]
    return HealthSnapshot(states, frozenset(), transitions=1)


@pytest.mark.django_db(transaction=True)
def test_two_workers_writing_at_once_leave_one_row_a_server_all_from_one_write():
    """Two workers on one database (two directors, or an old and a new one during a restart),
    writing every server's health at once, in opposite orders: no deadlock or duplicate-key error
    reaches them, each server keeps one row, and the rows all come from the same write (each
    write is one transaction, never interleaved with the other's)."""
    rounds = 10

    def worker(name: str, refs: list[RealServerRef], up: bool) -> None:
        writer = StatusWriter(NO_KERNEL, time.time)
        for n in range(rounds):
            writer.write(Enforced(None, None), snapshot(refs, up, f"{name} {n}"), force=True)

    at_once(
        lambda: worker("one", SERVERS, True),
        lambda: worker("two", SERVERS[::-1], False),
    )
    rows = list(RealServerHealth.objects.values_list("virtual_name", "address", "port"))
    assert sorted(rows) == sorted((r.virtual, r.address, r.port) for r in SERVERS)
    last = set(RealServerHealth.objects.values_list("last_error", "state"))
    assert last in ({(f"one {rounds - 1}", "up")}, {(f"two {rounds - 1}", "down")}), last
    assert WorkerStatus.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_at_once_on_an_empty_database_both_go_on_writing():
    """Two workers' first writes at once, before either has created the status row (a fresh
    installation whose two directors start together), each going straight on to its next write:
    no error reaches either, and one status row results. On MariaDB the loser of the insert
    kept the shared lock of its duplicate-key check and then asked for the row's exclusive lock,
    while the winner's next write already waited for that lock: InnoDB's deadlock (seen in CI
    under load). InsertRace widens that window from microseconds to a second."""
    race = InsertRace(WorkerStatus)

    def worker(name: str) -> None:
        writer = StatusWriter(NO_KERNEL, time.time)
        with race.hook():
            for n in range(3):
                health = snapshot(SERVERS[:5], True, f"{name} {n}")
                writer.write(Enforced(None, None), health, force=True)

    at_once(lambda: worker("one"), lambda: worker("two"))
    assert WorkerStatus.objects.count() == 1
    assert WorkerStatus.objects.get().heartbeat is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("model", "verb"),
    [(WorkerStatus, "INSERT"), (WorkerStatus, "UPDATE"), (RealServerHealth, "INSERT")],
    ids=["status-row-insert", "status-row-update", "health-upsert"],
)
def test_a_write_chosen_as_a_deadlocks_victim_is_run_again_whole(model, verb):
    """InnoDB breaks a lock cycle by rolling one transaction back and asking for a restart
    (error 1213; CI once saw the status row's first insert chosen). The worker runs the write
    again instead of losing the round: the heartbeat and every health row are written."""
    deadlock = DeadlockOnce(model, verb)
    with deadlock.hook():
        writer = StatusWriter(NO_KERNEL, time.time)
        assert writer.write(Enforced(None, None), snapshot(SERVERS[:5], False, "gone"), force=True)
    assert deadlock.victims == 1
    assert WorkerStatus.objects.get().heartbeat is not None
    rows = set(RealServerHealth.objects.values_list("address", "state", "last_error"))
    assert rows == {(r.address, "down", "gone") for r in SERVERS[:5]}


@pytest.mark.django_db(transaction=True)
def test_a_write_that_deadlocks_every_time_gives_the_error_up():
    """Five victims in a row are not a lock cycle between two writers: the error reaches the
    worker's loop (which logs it and tries next round) rather than spinning."""
    from django.db import OperationalError

    deadlock = DeadlockOnce(WorkerStatus, "UPDATE", times=5)
    with deadlock.hook(), pytest.raises(OperationalError, match="Deadlock"):
        StatusWriter(NO_KERNEL, time.time).write(
            Enforced(None, None), snapshot(SERVERS[:1], True, ""), force=True
        )
    assert deadlock.victims == 5


@pytest.mark.django_db(transaction=True)
def test_a_round_with_nothing_changed_writes_the_heartbeat_and_reads_nothing_back():
    # The shown table is a megabyte of JSON at 1,000 x 10: reading the row back every 2 s to
    # update it (update_or_create) was most of the status thread's time when nothing changed.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.worker.status import STATUS_EVERY

    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    quiet = HealthSnapshot([], frozenset(), transitions=0)
    writer.write(Enforced(None, None), quiet, force=True)
    clock.now += STATUS_EVERY
    with CaptureQueriesContext(connection) as queries:
        assert writer.write(Enforced(None, None), quiet)
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    (update,) = [sql for sql in statements if sql.lstrip().upper().startswith("UPDATE")]
    quote = connection.ops.quote_name
    assert quote("heartbeat") in update
    assert quote("table_note") not in update and quote("table_stamp") not in update
    assert WorkerStatus.objects.get().heartbeat.timestamp() == pytest.approx(clock.now)


def health_round(
    writer: StatusWriter, clock, refs: list[RealServerRef], members: int | None = None
) -> list[str]:
    """One health write (HEALTH_EVERY later) of `refs`, all up, with the health book's
    `members` marker; the statements it ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.worker.status import HEALTH_EVERY

    clock.now += HEALTH_EVERY
    quiet = snapshot(refs, True, "")
    quiet = HealthSnapshot(quiet.states, frozenset(), transitions=0, members=members)
    with CaptureQueriesContext(connection) as queries:
        assert writer.write(Enforced(None, None), quiet)
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_a_health_write_over_the_same_servers_reads_no_rows_back_and_one_that_left_goes():
    # Reading 10,000 rows' keys back every ten seconds to find none stale was most of a health
    # write (bench_worker.py); a server that left the configuration must still lose its row.
    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    RealServerHealth.objects.create(virtual_name="old", address="192.0.2.200", port=80)
    statements = health_round(writer, clock, SERVERS[:5], members=1)
    assert [s for s in statements if s.lstrip().upper().startswith("DELETE")]  # "old" went
    for _ in range(2):
        statements = health_round(writer, clock, SERVERS[:5], members=1)
        assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    health_round(writer, clock, SERVERS[:3], members=2)
    rows = set(RealServerHealth.objects.values_list("address", flat=True))
    assert rows == {r.address for r in SERVERS[:3]}


@pytest.mark.django_db(transaction=True)
def test_a_health_write_that_failed_leaves_no_stale_row_behind_the_next_one():
    """The rows known to be the only ones are the committed ones: a write rolled back with
    its cleanup must not let the next write skip the cleanup."""
    from django.db import OperationalError

    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    RealServerHealth.objects.create(virtual_name="old", address="192.0.2.200", port=80)
    with DeadlockOnce(RealServerHealth, "INSERT", times=5).hook():
        with pytest.raises(OperationalError):
            health_round(writer, clock, SERVERS[:2], members=1)
    assert RealServerHealth.objects.filter(virtual_name="old").exists()  # rolled back
    health_round(writer, clock, SERVERS[:2], members=1)
    rows = set(RealServerHealth.objects.values_list("address", flat=True))
    assert rows == {r.address for r in SERVERS[:2]}


def checked_round(writer: StatusWriter, clock, states: list[ServerHealth]) -> list[str]:
    """One health write (HEALTH_EVERY later) of `states`, each checked at that time with a new
    latency; the statements it ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.worker.status import HEALTH_EVERY

    clock.now += HEALTH_EVERY
    for n, state in enumerate(states):
        state.last_check, state.latency = clock.now, (n + 1 + clock.now % 7) / 10000
    health = HealthSnapshot(states, frozenset(), transitions=0, members=1)
    with CaptureQueriesContext(connection) as queries:
        assert writer.write(Enforced(None, None), health)
    return [q["sql"] for q in queries.captured_queries]


def shown(states: list[ServerHealth]) -> dict[str, tuple]:
    """What CONTROL shows of each server: its row's state, error, last check and latency."""
    rows = RealServerHealth.objects.values_list(
        "address", "state", "last_error", "last_check", "latency_ms"
    )
    return {
        address: (state, error, checked.timestamp(), latency)
        for address, state, error, checked, latency in rows
    }


def expected(states: list[ServerHealth]) -> dict[str, tuple]:
    return {
        s.ref.address: (
            "unknown" if s.last_check is None else "up" if s.up else "down",
            s.reason,
            pytest.approx(s.last_check),
            round(s.latency * 1000, 2),
        )
        for s in states
    }


@pytest.mark.django_db(transaction=True)
def test_quiet_health_writes_show_every_servers_last_check_and_latency_and_a_change_at_once():
    """In the quiet state a health write stamps the rows (last check, latency) instead of
    rewriting them whole; what CONTROL shows is the same: every server's last check and
    latency of this round, and a server that went down shown down with its reason."""
    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    states = [ServerHealth(ref, CheckSpec(), 1, since=clock.now) for ref in SERVERS[:20]]
    for _ in range(3):
        statements = checked_round(writer, clock, states)
        assert shown(states) == expected(states)
    # The rows are stamped, not rewritten whole (an upsert is an INSERT on every database).
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    states[4].up, states[4].since, states[4].reason = False, clock.now, "connection refused"
    statements = checked_round(writer, clock, states)
    assert shown(states) == expected(states)
    assert shown(states)[states[4].ref.address][:2] == ("down", "connection refused")
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]


@pytest.mark.django_db(transaction=True)
def test_a_server_checked_for_the_first_time_is_shown_up_not_unknown():
    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    states = [ServerHealth(ref, CheckSpec(), 1, since=clock.now) for ref in SERVERS[:3]]
    checked_round(writer, clock, states)
    checked_round(writer, clock, states)
    late = ServerHealth(SERVERS[3], CheckSpec(), 1, since=clock.now)
    health = HealthSnapshot([*states, late], frozenset(), transitions=0, members=2)
    clock.now += 10
    writer.write(Enforced(None, None), health)
    assert RealServerHealth.objects.get(address=late.ref.address).state == "unknown"
    checked_round(writer, clock, [*states, late])
    assert shown([*states, late]) == expected([*states, late])


@pytest.mark.django_db(transaction=True)
def test_first_checks_after_a_start_are_shown_at_the_next_round_not_a_health_interval_later():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.worker.status import HEALTH_EVERY, STATUS_EVERY

    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    states = [ServerHealth(ref, CheckSpec(), 1, since=clock.now) for ref in SERVERS[:4]]

    def status_round() -> list[str]:
        clock.now += STATUS_EVERY
        health = HealthSnapshot(states, frozenset(), transitions=0, members=1)
        with CaptureQueriesContext(connection) as queries:
            assert writer.write(Enforced(None, None), health)
        health_table = connection.ops.quote_name(RealServerHealth._meta.db_table)
        return [q["sql"] for q in queries.captured_queries if health_table in q["sql"]]

    def shown_states() -> dict[str, str]:
        return dict(RealServerHealth.objects.values_list("address", "state"))

    status_round()  # the worker's first round: nothing checked yet
    assert set(shown_states().values()) == {"unknown"}
    # Three servers' first checks come in (a check's interval spreads them): shown at once.
    for n, state in enumerate(states[:3]):
        state.last_check, state.latency = clock.now + 1, (n + 1) / 1000
    status_round()
    assert shown_states() == {
        **{s.ref.address: "up" for s in states[:3]},
        states[3].ref.address: "unknown",
    }
    # Nothing new: the health rows wait for their interval.
    assert status_round() == []
    states[3].last_check, states[3].latency = clock.now + 1, 0.004
    status_round()
    assert shown(states) == expected(states)
    assert 2 * STATUS_EVERY < HEALTH_EVERY  # each was one round, well before an interval


@pytest.mark.django_db(transaction=True)
def test_health_rows_another_worker_wrote_or_an_operator_removed_are_written_whole_again():
    """Two directors on one database: the last worker to write wins whole rows, never a mix of
    one's states and the other's stamps; a row removed behind the worker's back comes back."""
    from monitoring.worker.status import STATUS_EVERY

    clock = SimpleNamespace(now=time.time())
    writer = StatusWriter(NO_KERNEL, lambda: clock.now)
    states = [ServerHealth(ref, CheckSpec(), 1, since=clock.now) for ref in SERVERS[:5]]
    for _ in range(3):
        checked_round(writer, clock, states)
    # The other director's worker saw every server down, and wrote its heartbeat; this one's
    # next round (the heartbeat alone) comes before its next health write.
    RealServerHealth.objects.update(state="down", last_error="theirs")
    WorkerStatus.objects.update(
        heartbeat=WorkerStatus.objects.get().heartbeat - timedelta(seconds=1)
    )
    clock.now += STATUS_EVERY
    assert writer.write(Enforced(None, None), HealthSnapshot(states, frozenset(), 0, members=1))
    assert set(RealServerHealth.objects.values_list("last_error", flat=True)) == {"theirs"}
    checked_round(writer, clock, states)
    assert shown(states) == expected(states)
    RealServerHealth.objects.filter(address=states[2].ref.address).delete()
    checked_round(writer, clock, states)
    assert shown(states) == expected(states)
    checked_round(writer, clock, states)
    assert shown(states) == expected(states)
