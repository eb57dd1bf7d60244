"""The ARP guard on plain data: probe frames, which answers are conflicts, when a VIP is due."""

from monitoring.arpguard.frames import mac_bytes, probe, reply_of
from monitoring.arpguard.guard import ArpGuard, Target
from monitoring.arpguard.watch import ArpWatch, peer_address, targets_of
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer

OWN = "52:54:00:00:00:01"
PEER = "52:54:00:00:00:02"
RS1 = "52:54:00:00:00:11"
VIP = "192.0.2.240"


def reply(ip: str, mac: str) -> bytes:
    """An ARP reply as a host sends it (op 2)."""
    frame = bytearray(probe(mac_bytes(mac), "192.0.2.1"))
    frame[20:22] = b"\x00\x02"
    frame[28:32] = bytes(int(x) for x in ip.split("."))
    return bytes(frame)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_probe_asks_for_the_vip_without_naming_a_sender_address():
    frame = probe(mac_bytes(OWN), VIP)
    assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
    assert frame[28:32] == b"\0\0\0\0"  # RFC 5227: nobody's cache learns from the question
    assert frame[38:42] == bytes([192, 0, 2, 240])
    assert reply_of(frame) is None  # a request is not an answer


def test_it_reads_who_answers_for_which_address():
    assert reply_of(reply(VIP, RS1)) == (VIP, RS1)
    assert reply_of(b"\0" * 60) is None


def test_only_hosts_other_than_the_directors_are_conflicts_and_the_real_server_is_named():
    clock = Clock()
    guard = ArpGuard(clock)
    target = Target(VIP, "eth0:1", ("192.0.2.241", "192.0.2.242"))
    started, ended = guard.record(
        [target], {VIP: {OWN, PEER, RS1}}, {OWN, PEER}, {"192.0.2.241": RS1}
    )
    assert [(c.vip, c.device, c.mac, c.owner) for c in started] == [
        (VIP, "eth0", RS1, "192.0.2.241")
    ]
    assert ended == []
    assert "real server 192.0.2.241" in started[0].fix() and "arp_ignore=1" in started[0].fix()
    # The same answer again is no new conflict; its end is told once.
    assert guard.record([target], {VIP: {RS1}}, {OWN}, {}) == ([], [])
    started, ended = guard.record([target], {VIP: set()}, {OWN}, {})
    assert started == [] and [c.mac for c in ended] == [RS1]


def test_each_vip_is_asked_at_most_every_thirty_seconds():
    clock = Clock()
    guard = ArpGuard(clock)
    target = Target(VIP, "eth0")
    assert guard.due([target]) == [target]
    guard.record([target], {}, set(), {})
    clock.now += 29.9
    assert guard.due([target]) == []
    clock.now += 0.1
    assert guard.due([target]) == [target]


def config() -> LvsConfig:
    return LvsConfig(
        primary="192.0.2.1",
        backup="192.0.2.2",
        backup_active=True,
        virtuals=[
            VirtualServer(
                name="mysql",
                active=True,
                address=VIP,
                device="eth0:1",
                servers=[RealServer(name="a", address="192.0.2.241", active=True)],
            ),
            VirtualServer(name="off", active=False, address="192.0.2.250", device="eth0:2"),
            VirtualServer(name="v6", active=True, address="2001:db8::1", device="eth0"),
        ],
    )


def test_it_guards_active_ipv4_vips_and_knows_the_peer_director():
    assert targets_of(config()) == [Target(VIP, "eth0:1", ("192.0.2.241",))]
    assert peer_address(config(), {"192.0.2.1"}) == "192.0.2.2"
    assert peer_address(config(), {"192.0.2.2"}) == "192.0.2.1"


def test_the_watch_writes_conflicts_and_notifies_their_start_and_end(tmp_path, monkeypatch):
    from monitoring.arpguard import packet, watch

    monkeypatch.setattr(packet, "own_macs", lambda: {OWN})
    monkeypatch.setattr(packet, "neighbours", lambda: {"192.0.2.241": RS1, "192.0.2.2": PEER})
    answers = {VIP: {RS1, PEER}, "192.0.2.2": {PEER}}
    asked = []

    def ask(device, targets):
        asked.append((device, sorted(targets)))
        return {t: answers.get(t, set()) for t in targets}

    clock, events = Clock(), []
    state = tmp_path / "apply-state.json"
    guard = ArpWatch(state, config, events.append, lambda: {"192.0.2.1"}, ask, clock)
    assert guard.step()
    assert asked == [("eth0", ["192.0.2.2", VIP])]  # the peer is asked too, to learn its MAC
    found = watch.read_conflicts(state)
    assert found["guarded"] == 1
    assert [(c["vip"], c["mac"], c["owner"]) for c in found["conflicts"]] == [
        (VIP, RS1, "192.0.2.241")
    ]
    assert [(e.name, e.state) for e in events] == [(VIP, "ARP_CONFLICT")]
    assert not guard.step()  # not due again for 30 s
    clock.now += 30
    answers[VIP] = {PEER}  # the real server was fixed; the peer still holds the VIP
    assert guard.step()
    assert watch.read_conflicts(state)["conflicts"] == []
    assert [(e.name, e.state) for e in events] == [(VIP, "ARP_CONFLICT"), (VIP, "ARP_CLEAR")]
