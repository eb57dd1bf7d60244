"""The notifier: a storm becomes one message per channel; notify() never waits for a channel;
a slow channel delays neither the others nor the caller; what a full queue drops is counted."""

import threading
import time

from monitoring.notify.channels import Channel, DeliveryError
from monitoring.notify.events import realserver_event
from monitoring.notify.message import Message
from monitoring.notify.notifier import Notifier, deliver_now


class Recorder(Channel):
    def __init__(self, name="recorder", block: threading.Event | None = None):
        self.name = name
        self.block = block
        self.messages: list[Message] = []
        self.arrived = threading.Event()

    def deliver(self, message: Message) -> str:
        if self.block is not None:
            self.block.wait(10)
        self.messages.append(message)
        self.arrived.set()
        return "ok"


def down(n: int):
    return realserver_event("web", f"192.0.2.{n}", 80, "DOWN", "UP", "connection refused")


def test_a_storm_of_fifty_servers_is_one_message():
    notifier = Notifier("lvs1")
    channel = Recorder()
    notifier.configure([channel], window=0.2, max_delay=5)
    for n in range(50):
        assert notifier.notify(down(n))
    assert channel.arrived.wait(5)
    time.sleep(0.3)
    notifier.close()
    (message,) = channel.messages
    assert len(message.events) == 50 and message.summary() == "50 changes: 50 realserver DOWN"


def test_changes_further_apart_than_the_window_are_separate_messages():
    notifier = Notifier("lvs1")
    channel = Recorder()
    notifier.configure([channel], window=0.1, max_delay=5)
    notifier.notify(down(1))
    assert channel.arrived.wait(5)
    channel.arrived.clear()
    notifier.notify(down(2))
    assert channel.arrived.wait(5)
    notifier.close()
    assert [len(m.events) for m in channel.messages] == [1, 1]


def test_a_blocked_channel_delays_neither_notify_nor_the_other_channels():
    held = threading.Event()
    slow, fast = Recorder("slow", block=held), Recorder("fast")
    notifier = Notifier("lvs1")
    notifier.configure([slow, fast], window=0.05, max_delay=1)
    start = time.monotonic()
    for n in range(1000):
        notifier.notify(down(n % 250))
    assert time.monotonic() - start < 0.5  # the caller (the checks' loop) never waits
    assert fast.arrived.wait(5) and not slow.messages
    held.set()
    assert slow.arrived.wait(5)
    notifier.close()


def test_without_a_channel_events_are_not_queued():
    notifier = Notifier("lvs1")
    assert notifier.notify(down(1)) is False
    assert notifier.thread is None


def test_a_full_queue_drops_and_the_next_message_says_how_many():
    notifier = Notifier("lvs1", queue_size=3)
    channel = Recorder()
    gate, add = threading.Event(), notifier.grouper.add
    notifier.grouper.add = lambda event, now: (gate.wait(5), add(event, now))  # a busy thread
    notifier.configure([channel], window=0.3, max_delay=5)
    results = [notifier.notify(down(n)) for n in range(10)]
    gate.set()
    assert 6 <= results.count(False) <= 7
    assert channel.arrived.wait(5)
    channel.arrived.clear()
    notifier.notify(down(99))
    assert channel.arrived.wait(5)
    notifier.close()
    assert sum(m.dropped for m in channel.messages) == results.count(False)
    assert any("were lost" in m.body() for m in channel.messages if m.dropped)


def test_close_sends_what_is_still_grouped():
    notifier = Notifier("lvs1")
    channel = Recorder()
    notifier.configure([channel], window=60, max_delay=60)
    notifier.notify(down(1))
    time.sleep(0.1)
    notifier.close()
    assert channel.arrived.wait(5)
    assert len(channel.messages[0].events) == 1


def test_deliver_now_reports_each_channel_even_when_one_fails():
    class Broken(Channel):
        name = "webhook"

        def deliver(self, message):
            raise DeliveryError("connection refused (4 attempts)")

    outcomes = deliver_now([Broken(), Recorder("e-mail")], Message((), "lvs1", test=True))
    assert [(o.channel, o.ok, o.detail) for o in outcomes] == [
        ("webhook", False, "connection refused (4 attempts)"),
        ("e-mail", True, "ok"),
    ]


def test_the_test_delivery_answers_by_its_deadline_whatever_a_channel_does():
    from monitoring.notify.notifier import deliver_concurrently

    held = threading.Event()
    start = time.monotonic()
    outcomes = deliver_concurrently(
        [Recorder("webhook", block=held), Recorder("e-mail")], Message((), "lvs1", test=True), 0.3
    )
    held.set()
    assert time.monotonic() - start < 2
    assert [(o.channel, o.ok, o.detail) for o in outcomes] == [
        ("webhook", False, "no result within 0.3 s"),
        ("e-mail", True, "ok"),
    ]
