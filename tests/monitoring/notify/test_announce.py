"""Besides health, the worker tells about an operator's maintenance and return of a real server,
a drain that finished, and this director's VRRP role, through the same notifications."""

import asyncio
import time

import pytest
from django.core import mail

from monitoring.live.drainwatch import DrainWatch
from monitoring.live.holds import RuntimeState
from monitoring.live.states import drain_ready, set_state
from monitoring.models import NotificationSettings
from monitoring.notify import announce
from monitoring.redundancy.role import DirectorRole
from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import free_port, lvs_cf, memory, publish  # noqa: F401
from virtualservers.lvsconf.model import RealServerRef

DB1 = RealServerRef("mysql", "192.0.2.241", 3306)
DB2 = RealServerRef("mysql", "192.0.2.242", 3306)


def test_maintenance_and_return_are_events_and_entering_a_drain_waits_for_its_end() -> None:
    events = announce.held_events({DB2: RuntimeState.DRAIN}, {DB1: RuntimeState.MAINTENANCE})
    assert [(e.name, e.state, e.previous) for e in events] == [
        ("mysql/192.0.2.241:3306", "MAINTENANCE", ""),
        ("mysql/192.0.2.242:3306", "BACK", "DRAINING"),
    ]
    assert announce.held_events({}, {DB1: RuntimeState.DRAIN}) == []
    assert announce.drained_event(DB1).state == "DRAINED"


def test_a_role_change_is_told_in_keepalived_words_and_the_first_look_is_not_a_change(
    settings,
) -> None:
    settings.LVSADMIN_DIRECTOR_NAME = "lvs1"
    standby = DirectorRole("standby", 1.0, "keepalived: BACKUP")
    active = DirectorRole("active", 2.0, "keepalived: MASTER")
    assert announce.role_event(None, active) is None
    assert announce.role_event(active, DirectorRole("active", 3.0)) is None
    event = announce.role_event(standby, active)
    assert (event.name, event.state, event.previous) == ("lvs1", "MASTER", "BACKUP")
    assert announce.role_event(active, DirectorRole("single")) is None


@pytest.mark.django_db(transaction=True)
def test_the_running_worker_mails_maintenance_a_finished_drain_and_a_role_change(
    memory,  # noqa: F811
    settings,
) -> None:
    settings.LVSADMIN_DIRECTOR_NAME = "lvs1"
    up, other = free_port(), free_port()
    publish(lvs_cf(up, other))
    NotificationSettings.objects.create(recipients="ops@example.org", window=0.2)
    worker = Worker("memory", arp_count=0)
    # The role as the redundancy step last read it (keepalived's notify hook writes the file;
    # that step is tested with keepalived in the lab).
    redundancy = worker.redundancy.control.state
    redundancy.role = DirectorRole("standby", 1.0, "keepalived: BACKUP")
    worker.redundancy.step = lambda *args: None
    ref = RealServerRef("web", "127.0.0.1", up)

    async def scenario():
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(1.5)  # the first poll has read the role and the states
        await asyncio.to_thread(set_state, ref, "maintenance")
        redundancy.role = DirectorRole("active", 2.0, "keepalived: MASTER")
        drain_ready.send(sender=DrainWatch, ref=RealServerRef("web", "127.0.0.1", other))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            body = "\n".join(m.body for m in mail.outbox)
            if all(s in body for s in ("MAINTENANCE", "MASTER", "DRAINED")):
                break
            await asyncio.sleep(0.1)
        worker.stop()
        await task

    asyncio.run(scenario())
    body = "\n".join(m.body for m in mail.outbox)
    assert f"REALSERVER web/127.0.0.1:{up}: MAINTENANCE" in body
    assert f"REALSERVER web/127.0.0.1:{other}: DRAINING -> DRAINED" in body
    assert "DIRECTOR lvs1: BACKUP -> MASTER" in body


def test_bgp_sessions_up_and_down_and_vips_announced_and_withdrawn_are_events() -> None:
    seen = announce.BgpSeen
    before = seen({"router1": "Established", "router2": "Active"}, {"192.0.2.100": ""})
    assert announce.bgp_events(None, before) == []  # the first look is not a change
    after = seen(
        {"router1": "Active Socket: Connection refused", "router2": "Established"},
        {"192.0.2.100": "this director was taken out of service by an operator"},
    )
    events = announce.bgp_events(before, after, at=5.0)
    assert [(str(e.type), e.name, e.state, e.previous, e.reason) for e in events] == [
        ("BGP", "router1", "SESSION_DOWN", "SESSION_UP", "Active Socket: Connection refused"),
        ("BGP", "router2", "SESSION_UP", "SESSION_DOWN", "Established"),
        ("VIP", "192.0.2.100", "WITHDRAWN", "ANNOUNCED",
         "this director was taken out of service by an operator"),
    ]  # fmt: skip
    back = announce.bgp_events(after, before, at=6.0)
    assert [(e.name, e.state, e.previous) for e in back][-1] == (
        "192.0.2.100",
        "ANNOUNCED",
        "WITHDRAWN",
    )
    assert announce.bgp_events(before, before) == []
