"""nanny's state machine on a controlled clock: down at the first failure, back after
reentry/timeout consecutive successes; quiesce and the sorry server through desired_state."""

from monitoring.checks.health import HealthBook
from monitoring.checks.probes import ProbeResult
from monitoring.ipvs.table import desired_state, service_key
from virtualservers.lvsconf.model import LvsConfig, RealServer, RealServerRef, VirtualServer

OK, FAIL = ProbeResult(True, 0.01), ProbeResult(False, 0.01, "connection refused")
DB1 = RealServerRef("mysql", "192.0.2.241", 3306)
DB2 = RealServerRef("mysql", "192.0.2.242", 3306)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def seed(**fields) -> LvsConfig:
    virtual = VirtualServer(
        name="mysql", active=True, address="192.0.2.240", device="eth0:1", port=3306, scheduler="lc",
        timeout=6, reentry=15,
        servers=[RealServer("db1", "192.0.2.241", True, None, 1), RealServer("db2", "192.0.2.242", True, None, 1)],
    )  # fmt: skip
    for key, value in fields.items():
        setattr(virtual, key, value)
    return LvsConfig(network="direct", virtuals=[virtual])


def book(config=None):
    clock = Clock()
    health = HealthBook(clock)
    health.sync(config or seed())
    return health, clock


def test_it_starts_every_active_real_server_up_and_spreads_first_checks():
    health, clock = book()
    assert health.down() == frozenset()
    offsets = sorted(s.next_due - clock.now for s in health.states())
    assert all(0 <= o < 6 for o in offsets) and offsets[0] != offsets[1]


def test_first_checks_are_spread_evenly_over_the_interval_in_lvs_cf_order():
    servers = [RealServer(f"db{i}", f"192.0.2.{i}", True, None, 1) for i in range(1, 9)]
    health, clock = book(seed(servers=servers))
    offsets = [health.servers[ref].next_due - clock.now for ref in health.servers]
    assert [ref.address for ref in health.servers] == [s.address for s in servers]
    assert offsets == [i * 6 / 8 for i in range(8)]  # timeout 6 s, 8 servers: every 0.75 s


def test_it_takes_a_server_down_at_the_first_failure_with_nannys_words_naming_its_virtual():
    health, clock = book()
    transition = health.record(DB1, FAIL, clock.now)
    assert health.down() == {DB1}
    assert (
        transition.message()
        == "[inactive] shutting down 192.0.2.241:3306 of mysql due to connection refused"
    )


def test_it_brings_a_server_back_after_reentry_over_timeout_successes():
    health, clock = book()  # timeout 6, reentry 15: 2 consecutive successes
    health.record(DB1, FAIL, clock.now)
    clock.now += 6
    assert health.record(DB1, OK, clock.now) is None and health.down() == {DB1}
    clock.now += 6
    transition = health.record(DB1, OK, clock.now)
    assert transition.message() == "[ active ] making 192.0.2.241:3306 of mysql available"
    assert health.down() == frozenset()


def test_a_failure_during_reentry_starts_the_count_again():
    health, clock = book(seed(reentry=18))  # 3 successes
    health.record(DB1, FAIL, clock.now)
    health.record(DB1, OK, clock.now)
    health.record(DB1, OK, clock.now)
    health.record(DB1, FAIL, clock.now)
    health.record(DB1, OK, clock.now)
    health.record(DB1, OK, clock.now)
    assert health.down() == {DB1}
    health.record(DB1, OK, clock.now)
    assert health.down() == frozenset()


def test_it_needs_at_least_one_success_when_reentry_is_shorter_than_timeout():
    health, clock = book(seed(reentry=0))
    health.record(DB1, FAIL, clock.now)
    health.record(DB1, OK, clock.now)
    assert health.down() == frozenset()


def test_the_interval_is_the_service_timeout():
    health, clock = book()
    server = health.servers[DB1]
    due = server.next_due
    clock.now = due + 0.2  # the check took 0.2 s
    health.record(DB1, OK, due)
    assert server.next_due == due + 6


def test_quiesce_means_weight_zero_and_the_sorry_server_takes_over_when_all_are_down():
    config = seed(quiesce_server=True, sorry_server="192.0.2.250")
    health, clock = book(config)
    health.record(DB1, FAIL, clock.now)
    table = desired_state(config, health.down()).table[service_key(config.virtuals[0])]
    assert {d.address: d.weight for d in table.destinations.values()} == {
        "192.0.2.241": 0,
        "192.0.2.242": 1,
    }
    config.virtuals[0].quiesce_server = False
    health.record(DB2, FAIL, clock.now)
    table = desired_state(config, health.down()).table[service_key(config.virtuals[0])]
    assert {d.address: d.weight for d in table.destinations.values()} == {"192.0.2.250": 1}


def test_it_keeps_state_across_a_reload_and_forgets_removed_servers():
    health, clock = book()
    health.record(DB1, FAIL, clock.now)
    config = seed()
    config.virtuals[0].servers.pop()  # db2 removed
    health.sync(config)
    assert set(health.servers) == {DB1} and health.down() == {DB1}


def test_a_passed_check_taken_the_short_way_is_recorded_as_the_long_way_records_it():
    # The scanner's results go by record_passed (bench_worker.py: half the loop's time per
    # result); what the pages and the schedule see must be the same as by record().
    short, short_clock = book()
    long, long_clock = book()
    for health, clock in ((short, short_clock), (long, long_clock)):
        clock.now += 2
        health.record(DB1, FAIL, started=clock.now)  # a failure, then it is back up later
        for _ in range(3):
            clock.now += 6
            health.record(DB1, OK, started=clock.now)
        clock.now += 6
    assert short.servers[DB1].up and short.servers[DB1].failures == 0
    started = short_clock.now - 0.5
    assert short.record_passed(short.servers[DB1], ProbeResult(True, 0.02), started)
    assert long.record(DB1, ProbeResult(True, 0.02), started) is None
    assert short.servers[DB1] == long.servers[DB1]
    # Due again one interval after it was due, and scheduled: the next round checks it.
    assert short.servers[DB1].next_due == started + 6
    assert DB1 in {s.ref for s in short.due(started + 6)}


def test_the_short_way_refuses_what_it_cannot_record_and_records_nothing():
    health, clock = book()
    clock.now += 2
    health.record(DB2, FAIL, started=clock.now)
    db2 = health.servers[DB2]
    before = (db2.last_check, db2.next_due, db2.successes)
    assert not health.record_passed(db2, OK, clock.now)  # down: its rise is counted
    assert not health.record_passed(health.servers[DB1], FAIL, clock.now)
    assert (db2.last_check, db2.next_due, db2.successes) == before
    removed = health.servers[DB1]
    health.sync(seed(servers=[]))
    assert not health.record_passed(removed, OK, clock.now)
    assert health.servers == {}


def test_the_members_marker_moves_only_when_servers_come_or_go():
    health, _clock = book()
    first = health.members
    health.sync(seed(timeout=9))  # the same servers, checked otherwise
    assert health.members == first
    health.sync(seed(servers=[RealServer("db1", "192.0.2.241", True, None, 1)]))
    assert health.members == first + 1


def test_servers_handed_over_are_not_scheduled_by_the_book_and_one_taken_back_is_due_at_once():
    health, clock = book()
    health.hand_over({DB1})  # the connect scanner runs DB1's check on its own schedule
    later = clock.now + 60
    assert {s.ref for s in health.due(later)} == {DB2}
    # What the scanner reports is recorded, but puts nothing on the book's schedule.
    health.record(DB1, FAIL, started=clock.now)
    assert health.down() == {DB1}
    assert health.due(later + 60) == []  # DB2 was taken above and runs; DB1 is not the book's
    health.hand_over(set())  # DB1's check is the book's again (an HTTP check instead, say)
    assert [s.ref for s in health.due(clock.now)] == [DB1]
