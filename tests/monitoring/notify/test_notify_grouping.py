"""Storm grouping: close changes become one group; a group waits at most max_delay."""

from monitoring.notify.events import ServerState, director_event, realserver_event
from monitoring.notify.grouping import Grouper


def down(n: int):
    return realserver_event("web", f"192.0.2.{n}", 80, ServerState.DOWN, ServerState.UP)


def test_changes_within_the_window_become_one_group():
    grouper = Grouper(window=2.0, max_delay=30.0)
    for n in range(50):
        grouper.add(down(n), now=100.0 + n * 0.01)
    assert grouper.take_due(101.0) == []  # still inside the window
    group = grouper.take_due(102.6)
    assert [e.address for e in group] == [f"192.0.2.{n}" for n in range(50)]
    assert grouper.take_due(200.0) == []


def test_a_group_is_sent_after_max_delay_even_while_the_storm_goes_on():
    grouper = Grouper(window=2.0, max_delay=5.0)
    sent = []
    for tick in range(100):  # a flapping server: one change every second for 100 s
        now = float(tick)
        grouper.add(down(tick % 250), now)
        sent += [g for g in [grouper.take_due(now)] if g]
    assert len(sent) >= 15
    assert all(len(group) <= 6 for group in sent)


def test_a_role_change_joins_the_same_group_as_server_changes():
    grouper = Grouper(window=1.0)
    grouper.add(down(1), 0.0)
    grouper.add(director_event("lvs1", "MASTER", "BACKUP"), 0.5)
    group = grouper.take_due(1.5)
    assert [(e.type, e.state) for e in group] == [("REALSERVER", "DOWN"), ("DIRECTOR", "MASTER")]


def test_an_unknown_state_is_refused_with_the_states_allowed():
    try:
        realserver_event("web", "192.0.2.1", 80, "SIDEWAYS")
    except ValueError as exc:
        assert "DOWN" in str(exc) and "DRAINED" in str(exc)
    else:
        raise AssertionError("accepted")


def test_an_ipv6_real_server_is_named_with_brackets():
    event = realserver_event("web6", "2001:db8::5", 443, "UP", "DOWN")
    assert event.name == "web6/[2001:db8::5]:443"
