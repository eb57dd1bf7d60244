"""fall and rise (HAProxy's words) on nanny's state machine, on plain data: fall consecutive
failures take a server out, rise consecutive successes bring it back; the defaults are nanny's."""

from tests.monitoring.checks.test_health import DB1, DB2, FAIL, OK, book, seed


def test_fall_3_needs_three_consecutive_failures_to_take_a_server_out():
    health, clock = book(seed(fall=3))
    assert health.record(DB1, FAIL, clock.now) is None
    assert health.record(DB1, FAIL, clock.now) is None
    assert health.down() == frozenset()
    transition = health.record(DB1, FAIL, clock.now)
    assert transition is not None and not transition.up
    assert transition.message().endswith("due to connection refused")
    assert health.down() == {DB1}


def test_a_success_between_failures_starts_the_fall_count_again():
    health, clock = book(seed(fall=2))
    health.record(DB1, FAIL, clock.now)
    health.record(DB1, OK, clock.now)
    assert health.record(DB1, FAIL, clock.now) is None
    assert health.down() == frozenset()
    assert health.record(DB1, FAIL, clock.now) is not None


def test_rise_overrides_reentry_over_timeout():
    health, clock = book(seed(rise=4))  # reentry 15 / timeout 6 would be 2
    health.record(DB1, FAIL, clock.now)
    for _ in range(3):
        assert health.record(DB1, OK, clock.now) is None
    assert health.down() == {DB1}
    transition = health.record(DB1, OK, clock.now)
    assert transition is not None and transition.up
    assert health.down() == frozenset()


def test_without_fall_and_rise_it_is_nanny_one_failure_and_reentry_over_timeout():
    health, clock = book()
    server = health.servers[DB2]
    assert (server.fall, server.threshold) == (1, 2)
    assert health.record(DB2, FAIL, clock.now) is not None


def test_a_reload_with_new_counts_keeps_the_state_and_uses_them():
    config = seed()
    health, clock = book(config)
    health.record(DB1, FAIL, clock.now)
    health.sync(seed(fall=5, rise=1))
    assert health.down() == {DB1}
    assert health.record(DB1, OK, clock.now).up
    for _ in range(4):
        assert health.record(DB1, FAIL, clock.now) is None
    assert not health.record(DB1, FAIL, clock.now).up
