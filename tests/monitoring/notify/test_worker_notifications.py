"""The worker tells: a health transition becomes a notification, off the check path. A webhook
that never answers delays no check."""

import asyncio
import socket
import time

import pytest
from django.core import mail

from monitoring.checks.health import Transition
from monitoring.models import NotificationSettings
from monitoring.notify.delivery import WorkerNotifications
from monitoring.notify.events import director_event
from monitoring.worker import loop
from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import free_port, lvs_cf, memory, publish  # noqa: F401
from virtualservers.lvsconf.model import RealServerRef

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.fixture
def notifications():
    hook = WorkerNotifications()
    yield hook
    hook.close()


def test_a_storm_of_fifty_servers_going_down_is_one_mail(notifications, settings):
    settings.LVSADMIN_DIRECTOR_NAME = "lvs1"
    NotificationSettings.objects.create(recipients="ops@example.org", window=0.3)
    assert notifications.reload()
    for n in range(50):
        ref = RealServerRef("web", f"192.0.2.{n + 1}", 80)
        notifications.changed(Transition(ref, False, "connection refused"))
    assert wait_for(lambda: len(mail.outbox) >= 1)
    time.sleep(0.5)
    (message,) = mail.outbox
    assert message.to == ["ops@example.org"]
    assert message.subject == "[lvsadmin lvs1] 50 changes: 50 realserver DOWN"
    assert "REALSERVER web/192.0.2.50:80: UP -> DOWN (connection refused)" in message.body


def test_a_role_change_goes_through_the_same_entry_point(notifications, settings):
    settings.LVSADMIN_DIRECTOR_NAME = "lvs1"
    NotificationSettings.objects.create(recipients="ops@example.org", window=0.1)
    notifications.reload()
    assert notifications.notify(director_event("lvs1", "MASTER", "BACKUP", "higher priority"))
    assert wait_for(lambda: len(mail.outbox) == 1)
    assert mail.outbox[0].subject == "[lvsadmin lvs1] lvs1 MASTER"
    assert "DIRECTOR lvs1: BACKUP -> MASTER (higher priority)" in mail.outbox[0].body


def test_the_worker_rereads_the_settings_only_when_they_changed(notifications):
    assert notifications.reload()  # no row yet: nothing configured
    assert not notifications.notifier.enabled
    assert not notifications.reload()
    NotificationSettings.objects.create(recipients="ops@example.org")
    assert notifications.reload() and notifications.notifier.enabled
    assert not notifications.reload()
    NotificationSettings.objects.update(recipients="")
    assert notifications.reload() and not notifications.notifier.enabled


def test_the_running_worker_mails_a_server_that_went_down(memory, settings):  # noqa: F811
    settings.LVSADMIN_DIRECTOR_NAME = "lvs1"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    up, dead = listener.getsockname()[1], free_port()
    publish(lvs_cf(up, dead))
    NotificationSettings.objects.create(recipients="ops@example.org", window=0.2)
    worker = Worker("memory", arp_count=0)

    async def scenario():
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while not mail.outbox and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        worker.stop()
        await task

    asyncio.run(scenario())
    listener.close()
    (message,) = mail.outbox
    assert message.subject == f"[lvsadmin lvs1] web/127.0.0.1:{dead} DOWN"


def test_checks_keep_their_schedule_while_the_webhook_never_answers(memory, monkeypatch):  # noqa: F811
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(16)  # the kernel accepts; nobody ever reads or answers
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    up, dead = listener.getsockname()[1], free_port()
    publish(
        lvs_cf(up, dead).replace("timeout = 2", "timeout = 1").replace("reentry = 4", "reentry = 1")
    )
    NotificationSettings.objects.create(
        webhook_url=f"http://127.0.0.1:{black_hole.getsockname()[1]}/hook",
        webhook_timeout=30,
        webhook_retries=3,
        window=0.1,
    )
    starts: dict[int, list[float]] = {}
    real_probe = loop.probe_both_ways

    async def timed_probe(address, port, spec, path):
        starts.setdefault(port, []).append(time.monotonic())
        return await real_probe(address, port, spec, path)

    monkeypatch.setattr(loop, "probe_both_ways", timed_probe)
    monkeypatch.setattr(loop, "is_plain_connect", lambda spec: False)  # every check timed here
    worker = Worker("memory", arp_count=0)
    notifier = worker.notifications.notifier

    async def scenario():
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(4.5)
        worker.stop()
        await task

    asyncio.run(scenario())
    assert notifier.outcomes == []  # no delivery finished: the POST hangs on its 30 s timeout
    black_hole.setblocking(False)
    posted, _ = black_hole.accept()  # the webhook was called and is still waiting for an answer
    posted.close()
    black_hole.close()
    listener.close()
    for port in (up, dead):
        gaps = [b - a for a, b in zip(starts[port], starts[port][1:], strict=False)]
        assert len(gaps) >= 3, starts
        assert max(gaps) < 1.3, (port, gaps)  # every second, as configured


def test_a_change_seen_before_the_settings_were_first_read_is_still_sent(notifications):
    notifications.changed(Transition(RealServerRef("web", "192.0.2.9", 80), False, "timed out"))
    NotificationSettings.objects.create(recipients="ops@example.org", window=0.1)
    notifications.reload()
    assert wait_for(lambda: len(mail.outbox) == 1)
    assert "web/192.0.2.9:80" in mail.outbox[0].subject


def test_unreadable_settings_do_not_stop_the_poll(notifications, monkeypatch, caplog):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("no such table: monitoring_notificationsettings")

    from monitoring.notify import delivery

    monkeypatch.setattr(delivery._SETTINGS, "rows", broken)  # the poll's read of the settings
    assert notifications.reload() is False
    assert notifications.reload() is False
    said = [r.message for r in caplog.records if "notification settings" in r.message]
    assert len(said) == 1 and "no such table" in said[0]
