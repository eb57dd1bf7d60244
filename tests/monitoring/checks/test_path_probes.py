"""The configured check made through the forwarding path: every check kind opens its socket
marked with the path's private mark, bound to the director's own address and connected to the
VIP, and one verdict comes of the two checks. On loopback only (the host has no IPVS: here the
"VIP" is a loopback address, so these prove the sockets, the lab VM proves the path)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from monitoring.checks import probes
from monitoring.checks import scanner as scanner_module
from monitoring.checks.probes import CheckSpec, ProbeResult, both_ways, probe, probe_both_ways
from monitoring.checks.scanner import ConnectScanner, Watched
from tests.monitoring.checks.test_probes_http import _serve
from tests.monitoring.checks.test_scanner import Reports, Results, Stamp, wait_until
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.lvsconf.paths import PATH_MARK_FIRST, PathCheck

MARK = PATH_MARK_FIRST + 7


def path_to(vip: str, port: int, address: str = "127.0.0.1") -> PathCheck:
    return PathCheck(RealServerRef("v", address, port), vip, MARK, "route")


@pytest.fixture
def marked(monkeypatch) -> list[tuple[int, str]]:
    """(SO_MARK, bound address) of every path socket the checks open, as opened."""
    seen: list[tuple[int, str]] = []
    real = probes.path_socket

    def spying(path, kind=socket.SOCK_STREAM):
        sock = real(path, kind)
        seen.append((sock.getsockopt(socket.SOL_SOCKET, socket.SO_MARK), sock.getsockname()[0]))
        return sock

    monkeypatch.setattr(probes, "path_socket", spying)
    monkeypatch.setattr(scanner_module, "path_socket", spying)
    return seen


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers "HELLO" to anything."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(100)
                    conn.sendall(b"HELLO there\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_the_path_socket_carries_the_mark_and_the_directors_own_address() -> None:
    sock = probes.path_socket(path_to("127.0.0.1", 9))
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) == MARK
        assert sock.getsockname()[0] == "127.0.0.1"  # the source the route to the server picks
    finally:
        sock.close()


def test_send_expect_goes_through_the_path_marked(echo, marked) -> None:
    spec = CheckSpec(send="PING\\r\\n", expect="HELLO", timeout=3)
    result = asyncio.run(probe("127.0.0.1", echo, spec, path_to("127.0.0.1", echo)))
    assert result.ok, result.reason
    assert marked == [(MARK, "127.0.0.1")]


def test_an_http_check_through_the_path_keeps_the_real_servers_host_header(marked) -> None:
    web = _serve(None)
    try:
        port = web.server_address[1]
        spec = CheckSpec(kind="http", http_path="/health", timeout=3)
        result = asyncio.run(probe("127.0.0.1", port, spec, path_to("127.0.0.1", port)))
    finally:
        web.shutdown()
        web.server_close()
    assert result.ok, result.reason
    assert web.seen == [("GET", "/health", f"127.0.0.1:{port}")]
    assert marked == [(MARK, "127.0.0.1")]


def test_a_udp_check_through_the_path_is_marked(marked) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        data, peer = server.recvfrom(100)
        server.sendto(b"PONG " + data, peer)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    spec = CheckSpec(protocol="udp", send="PING", expect="PONG", timeout=3)
    try:
        result = asyncio.run(probe("127.0.0.1", port, spec, path_to("127.0.0.1", port)))
    finally:
        thread.join(timeout=5)
        server.close()
    assert result.ok, result.reason
    assert marked == [(MARK, "127.0.0.1")]


def test_a_server_answering_directly_but_not_through_the_vip_is_down_with_the_fix(
    echo,
) -> None:
    # The "VIP" 127.0.0.2 has nothing on the port: the path fails, the direct check passes.
    path = path_to("127.0.0.2", echo)
    result = asyncio.run(probe_both_ways("127.0.0.1", echo, CheckSpec(kind="tcp"), path))
    assert not result.ok
    assert result.reason == (
        f"answers on 127.0.0.1:{echo} but not through VIP 127.0.0.2:{echo} (connection "
        "refused): is the VIP on its lo (with arp_ignore=1, arp_announce=2)? See Set up"
    )


def test_a_direct_failure_gives_its_own_reason_and_both_passing_is_up() -> None:
    path = path_to("192.0.2.240", 3306)
    up, refused = ProbeResult(True, 0.01), ProbeResult(False, 0.02, "connection refused")
    assert both_ways(refused, up, path) == refused
    assert both_ways(refused, refused, path) == refused
    assert both_ways(up, up, path) == up
    assert both_ways(up, refused, path).reason.startswith("answers on 127.0.0.1:3306")


def test_the_connect_scanner_checks_both_ways_and_joins_the_verdicts(echo, marked) -> None:
    results = Results()
    scanner = ConnectScanner(results.deliver)
    try:
        scanner.submit("both", "127.0.0.1", echo, 3, path_to("127.0.0.1", echo))
        scanner.submit("half", "127.0.0.1", echo, 3, path_to("127.0.0.2", echo))
        scanner.submit("plain", "127.0.0.1", echo, 3)
        both, half, plain = results.wait("both", "half", "plain")
    finally:
        scanner.close()
    assert both.ok and plain.ok
    assert not half.ok and half.reason.startswith(f"answers on 127.0.0.1:{echo} but not through")
    assert marked == [(MARK, "127.0.0.1"), (MARK, "127.0.0.1")]  # one per path check, marked


def _overlaps(monkeypatch, spec: CheckSpec) -> bool:
    """Whether probe_both_ways ran its direct and path checks at the same time."""
    running: set[str] = set()
    overlapped = False

    async def fake_probe(address, port, spec, path=None):
        nonlocal overlapped
        way = "path" if path is not None else "direct"
        running.add(way)
        overlapped = overlapped or len(running) > 1
        await asyncio.sleep(0.01)
        running.discard(way)
        return ProbeResult(True, 0.01)

    monkeypatch.setattr(probes, "probe", fake_probe)
    result = asyncio.run(probe_both_ways("127.0.0.1", 3306, spec, path_to("127.0.0.2", 3306)))
    assert result.ok
    return overlapped


def test_a_mysql_load_read_never_runs_beside_the_path_checks_login(monkeypatch):
    # MariaDB counts a connection logging in as running: beside the path check's login, the
    # direct check's Threads_running read one statement too many.
    assert not _overlaps(monkeypatch, CheckSpec(kind="mysql", mysql_load=True))


def test_without_a_load_read_both_ways_run_at_once_within_one_timeout(monkeypatch):
    assert _overlaps(monkeypatch, CheckSpec(kind="mysql"))


def test_a_watched_check_made_both_ways_goes_quiet_and_still_checks_through_the_path(
    echo, marked
) -> None:
    reports, stamp = Reports(), Stamp()
    scanner = ConnectScanner(reports.deliver)
    try:
        path = path_to("127.0.0.1", echo)
        scanner.watch({"db1": Watched(stamp, (), "127.0.0.1", echo, 0.2, 1, path)})
        wait_until(lambda: len(marked) >= 4)  # four checks, each through the path as well
        first = stamp.last_check
        wait_until(lambda: stamp.last_check != first)
    finally:
        scanner.close()
    # One pass reported (rise 1), the others quiet: only stamped.
    assert [(token, r.ok) for (token, _due), r in reports.all] == [(stamp, True)]
    assert set(marked) == {(MARK, "127.0.0.1")}


def test_a_watched_check_failing_through_the_path_is_reported_every_time(echo, marked) -> None:
    reports, stamp = Reports(), Stamp()
    scanner = ConnectScanner(reports.deliver)
    try:
        path = path_to("127.0.0.2", echo)  # nothing answers there: the VIP's path is broken
        scanner.watch({"db1": Watched(stamp, (), "127.0.0.1", echo, 0.2, 1, path)})
        wait_until(lambda: len(reports.all) >= 3)
    finally:
        scanner.close()
    assert all(
        not r.ok and r.reason.startswith(f"answers on 127.0.0.1:{echo} but not through")
        for _, r in reports.all
    )
    assert stamp.last_check is None  # nothing quiet: every check reported
