"""Real servers shared by several virtual servers (same address, port and check) are checked
once per interval, and the result counts for every one of them (keepalived's users ask for it:
"One health check for multiple VIPs with same real servers")."""

from dataclasses import replace

from monitoring.checks.health import HealthBook
from tests.monitoring.checks.test_health import FAIL, OK, Clock, seed
from virtualservers.lvsconf.model import LvsConfig, RealServerRef

VIPS = ("192.0.2.240", "192.0.2.250", "198.51.100.40")


def shared(timeouts=(6, 6, 6)) -> LvsConfig:
    """Three virtual servers over the same two real servers (db1, db2)."""
    (template,) = seed().virtuals
    virtuals = [
        replace(template, name=f"mysql{i}", address=vip, timeout=timeout)
        for i, (vip, timeout) in enumerate(zip(VIPS, timeouts, strict=True))
    ]
    return LvsConfig(network="direct", virtuals=virtuals)


def checks_in(health: HealthBook, clock: Clock, seconds: float) -> list[RealServerRef]:
    """The checks started over `seconds`, each answered at once (up)."""
    started = []
    end = clock.now + seconds
    while clock.now < end:
        for server in health.due():
            started.append(server.ref)
            health.record_shared(server.ref, OK, server.next_due)
        clock.now += 0.5
    return started


def test_three_virtual_servers_over_the_same_real_servers_cost_one_check_each_per_interval():
    clock = Clock()
    health = HealthBook(clock)
    health.sync(shared())
    started = checks_in(health, clock, 60)  # ten intervals of 6 s
    by_address: dict[str, int] = {}
    for ref in started:
        by_address[ref.address] = by_address.get(ref.address, 0) + 1
    assert by_address == {"192.0.2.241": 10, "192.0.2.242": 10}
    # Each of the six real servers (3 virtual servers x 2) was checked, through its leader.
    assert all(s.last_check is not None for s in health.states())
    assert len(list(health.states())) == 6


def test_a_shared_failure_takes_the_server_out_of_every_virtual_server_that_holds_it():
    clock = Clock()
    health = HealthBook(clock)
    health.sync(shared())
    (leader,) = [s for s in health.states() if s.followers and s.ref.address == "192.0.2.241"]
    transitions = health.record_shared(leader.ref, FAIL, clock.now)
    assert sorted(t.ref.virtual for t in transitions) == ["mysql0", "mysql1", "mysql2"]
    assert {ref.virtual for ref in health.down()} == {"mysql0", "mysql1", "mysql2"}
    assert all("connection refused" == t.reason for t in transitions)


def test_a_different_check_interval_is_a_different_check():
    clock = Clock()
    health = HealthBook(clock)
    health.sync(shared(timeouts=(6, 6, 3)))
    started = checks_in(health, clock, 60)
    # mysql0 and mysql1 share a 6 s check; mysql2's 3 s check runs on its own.
    assert sorted({ref.virtual for ref in started}) == ["mysql0", "mysql2"]


def test_when_the_checked_virtual_server_leaves_another_takes_over_its_check():
    clock = Clock()
    health = HealthBook(clock)
    config = shared()
    health.sync(config)
    checks_in(health, clock, 12)
    config.virtuals[0].active = False
    health.sync(config)
    started = checks_in(health, clock, 60)
    assert {ref.virtual for ref in started} == {"mysql1"}
    assert len(started) == 20  # still one check per real server per interval


def test_the_short_way_leaves_a_shared_check_to_record_shared_so_every_sharer_is_recorded():
    clock = Clock()
    health = HealthBook(clock)
    health.sync(shared())
    (leader,) = [s for s in health.states() if s.followers and s.ref.address == "192.0.2.241"]
    assert not health.record_passed(leader, OK, clock.now)
    assert all(s.last_check is None for s in health.states())
    health.record_shared(leader.ref, OK, clock.now)
    sharers = [s for s in health.states() if s.ref.address == "192.0.2.241"]
    assert len(sharers) == 3 and all(s.last_check == clock.now for s in sharers)
