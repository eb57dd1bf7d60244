"""The worker, step by step and as `lvsworker`, with the in-memory IPVS driver and real sockets."""

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring.ipvs import drivers
from monitoring.ipvs.table import ServiceKey
from monitoring.live.worker_table import all_rows, ipvsadm_text
from monitoring.models import (
    ConnectionSample,
    RealServerHealth,
    Revision,
    WorkerStatus,
    WorkerTableService,
)
from monitoring.worker.loop import Worker

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(50)
    yield sock.getsockname()[1]
    sock.close()


def lvs_cf(up_port: int, down_port: int, quiesce: int = 0) -> str:
    return f"""serial_no = 1
network = direct
virtual web {{
     active = 1
     address = 192.0.2.80 eth0:1
     port = {up_port}
     scheduler = wlc
     protocol = tcp
     timeout = 2
     reentry = 4
     quiesce_server = {quiesce}
     server up1 {{
         address = 127.0.0.1
         active = 1
     }}
     server down1 {{
         address = 127.0.0.1
         port = {down_port}
         active = 1
     }}
}}
"""


@pytest.fixture
def memory(monkeypatch, settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    driver = drivers.MemoryDriver()
    monkeypatch.setattr(drivers, "_MEMORY_SINGLETON", driver)
    return driver


def publish(text: str, serial: int = 1, checks=None) -> None:
    Revision.objects.create(serial_no=serial, text=text, checks=checks or {})


def test_it_takes_a_failed_server_out_of_the_table_and_reports_why(memory, listener):
    dead = free_port()
    publish(lvs_cf(listener, dead))
    call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    key = ServiceKey.for_address("tcp", "192.0.2.80", listener)
    assert set(memory.table[key].destinations) == {("127.0.0.1", listener)}
    rows = {h.port: h for h in RealServerHealth.objects.all()}
    assert rows[listener].state == "up" and rows[listener].weight == 1
    assert rows[dead].state == "down" and rows[dead].last_error == "connection refused"
    now = timezone.now()
    for row in rows.values():  # times read back as real moments, latency in milliseconds
        assert abs((now - row.last_check).total_seconds()) < 60
        assert abs((now - row.since).total_seconds()) < 60
        assert row.latency_ms is not None and 0 <= row.latency_ms < 5000
    status = WorkerStatus.objects.get()
    assert status.kernel_ok and f"TCP  192.0.2.80:{listener} wlc" in ipvsadm_text()
    assert ConnectionSample.objects.count() == 2
    # A second pass updates the same rows rather than adding new ones.
    call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    assert RealServerHealth.objects.count() == 2
    assert RealServerHealth.objects.get(port=listener).last_check >= rows[listener].last_check


def test_it_rewrites_the_shown_table_only_when_the_kernel_table_changed(memory, listener):
    publish(lvs_cf(listener, free_port()))
    worker = Worker("memory", arp_count=0)
    worker.open_driver()
    worker.load_config()
    worker.apply_if_needed()
    worker.write_status(force=True)
    status = WorkerStatus.objects.get()
    assert f"TCP  192.0.2.80:{listener} wlc" in ipvsadm_text()
    assert all_rows()[0]["virtual"] == "web"
    WorkerTableService.objects.update(service="as written before")
    heartbeat = status.heartbeat
    worker.write_status(force=True)  # same table: only the heartbeat moves
    status = WorkerStatus.objects.get()
    assert set(WorkerTableService.objects.values_list("service", flat=True)) == {
        "as written before"
    }
    assert status.heartbeat > heartbeat
    key = ServiceKey.for_address("tcp", "192.0.2.80", listener)
    dest = memory.table[key].destinations[("127.0.0.1", listener)]
    memory.table[key].destinations[dest.key] = replace(dest, active_conn=5)  # traffic
    worker.write_status(force=True)
    assert WorkerTableService.objects.get().service == f"TCP  192.0.2.80:{listener}"
    (shown,) = [d for d in all_rows()[0]["destinations"] if d["port"] == listener]
    assert shown["active"] == 5


def test_health_rows_show_the_connections_and_weight_the_kernel_has_now(memory, listener):
    """Health writes that stamp the rows alone (nothing changed) still show a change of a
    real server's connection counters or weight at the next one."""
    publish(lvs_cf(listener, free_port()))
    worker = Worker("memory", arp_count=0)
    worker.open_driver()
    worker.load_config()
    worker.apply_if_needed()
    for _ in range(3):
        worker.write_status(force=True)
    assert RealServerHealth.objects.get(port=listener).active_conn == 0
    key = ServiceKey.for_address("tcp", "192.0.2.80", listener)
    dest = memory.table[key].destinations[("127.0.0.1", listener)]
    memory.table[key].destinations[dest.key] = replace(dest, active_conn=5, weight=3)
    worker.write_status(force=True)
    row = RealServerHealth.objects.get(port=listener)
    assert (row.active_conn, row.weight) == (5, 3)


def test_it_quiesces_a_failed_server_to_weight_zero(memory, listener):
    dead = free_port()
    publish(lvs_cf(listener, dead, quiesce=1))
    call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    key = ServiceKey.for_address("tcp", "192.0.2.80", listener)
    assert memory.table[key].destinations[("127.0.0.1", dead)].weight == 0


def test_it_picks_up_a_newly_published_revision(memory, listener):
    dead = free_port()
    publish(lvs_cf(listener, dead))
    worker = Worker("memory", arp_count=0)
    assert worker.load_config() is True
    assert worker.load_config() is False  # nothing new
    publish(lvs_cf(listener, dead).replace("scheduler = wlc", "scheduler = rr"), serial=2)
    assert worker.load_config() is True and worker.serial == 2


def test_it_says_why_it_cannot_touch_the_kernel_and_shows_the_table_it_would_apply(
    settings, listener, tmp_path
):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    publish(lvs_cf(listener, free_port()))
    call_command("lvsworker", "--once", "--driver", "netlink", "--no-arp")  # this host has no IPVS
    status = WorkerStatus.objects.get()
    assert not status.kernel_ok
    assert "no IPVS" in status.kernel_message
    assert ipvsadm_text().startswith("# the table lvsadmin would apply")
    assert RealServerHealth.objects.filter(state="up").count() == 1


class WorkerProcess:
    """`manage.py lvsworker` as a real process on a published file (no revision), with the
    memory driver, whose log can be waited on."""

    def __init__(self, tmp_path, text: str, database: dict[str, str]) -> None:
        cf = tmp_path / "lvs.cf"
        cf.write_text(text)
        env = {
            **os.environ,
            **database,
            "LVSADMIN_STATE_DIR": str(tmp_path),
            "LVSADMIN_LVS_CF": str(cf),
            "LVSADMIN_IPVS_DRIVER": "memory",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True
        )
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "lvsworker", "--no-arp"],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log = ""

    def wait_for(self, text: str, count: int = 1, limit: float = 30) -> str:
        deadline = time.time() + limit
        stream = self.process.stderr.fileno()
        while self.log.count(text) < count and time.time() < deadline:
            ready, _, _ = select.select([stream], [], [], 0.5)
            if ready:
                chunk = os.read(stream, 65536).decode()
                if not chunk:
                    break
                self.log += chunk
        assert self.log.count(text) >= count, f"no {text!r} (x{count}) in:\n{self.log}"
        return self.log

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        return self.process.communicate(timeout=20)[1]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def test_sigterm_stops_the_worker_and_leaves_the_table_alone(tmp_path, listener, own_database):
    # SIGTERM must not remove what was applied (the memory table lives in that process, so we
    # check that it exits 0, logs that the table stays, and never logs a removal). Both real
    # servers answer: a dead one could be taken out before the first apply (its refusal takes a
    # millisecond; the first apply waits for the control thread's database reads, slower on
    # MariaDB), which made that apply 2 operations instead of 3.
    second = socket.create_server(("127.0.0.1", 0))
    worker = WorkerProcess(tmp_path, lvs_cf(listener, second.getsockname()[1]), own_database)
    try:
        assert "applied: 3 operations" in worker.wait_for("applied:")
        rest = worker.stop()
    finally:
        worker.kill()
        second.close()
    assert worker.process.returncode == 0
    assert "stopping; the IPVS table stays as it is" in rest
    assert "removed" not in rest


def test_sighup_rereads_the_configuration_without_a_restart(tmp_path, listener, own_database):
    worker = WorkerProcess(tmp_path, lvs_cf(listener, free_port()), own_database)
    try:
        worker.wait_for("applied:")
        pid = worker.process.pid
        worker.process.send_signal(signal.SIGHUP)
        log = worker.wait_for("enforcing", count=2)
        assert "SIGHUP: re-reading the configuration" in log
        assert log.index("SIGHUP") < log.rindex("enforcing")
        assert worker.process.poll() is None and worker.process.pid == pid  # still running
        worker.stop()
    finally:
        worker.kill()
    assert worker.process.returncode == 0


def test_the_worker_loop_notices_a_failure_within_timeout_plus_an_interval(memory, tmp_path):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(50)
    port = sock.getsockname()[1]
    publish(lvs_cf(port, port))  # the same server twice keeps the file simple
    worker = Worker("memory", arp_count=0)

    async def scenario():
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(3)
        assert not worker.book.down()
        sock.close()
        failed_at = time.monotonic()
        while not worker.book.down() and time.monotonic() - failed_at < 10:
            await asyncio.sleep(0.05)
        seen = time.monotonic() - failed_at
        key = ServiceKey.for_address("tcp", "192.0.2.80", port)
        applied_by = time.monotonic() + 2
        while (
            memory.table.get(key)
            and memory.table[key].destinations
            and time.monotonic() < applied_by
        ):
            await asyncio.sleep(0.05)
        worker.stop()
        await task
        return seen

    seen = asyncio.run(scenario())
    assert worker.book.down(), "the failure was never seen"
    assert seen <= 2 + 2 + 0.5  # timeout + one interval
    key = ServiceKey.for_address("tcp", "192.0.2.80", port)
    assert memory.table[key].destinations == {}


# --- one writer ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_applylvs_without_a_worker_re_adds_and_the_worker_takes_it_out_again(
    memory, listener, settings
):
    # The reproduction: the worker applies with a server down; cron's applylvs (no
    # live worker: this worker runs step by step and holds no presence lock) puts it back; the
    # worker's next drift repair takes it out again, although its down set did not change.
    settings.LVSADMIN_DRIFT_REPAIR_SECONDS = 5
    dead = free_port()
    publish(lvs_cf(listener, dead))
    settings.LVSADMIN_LVS_CF.write_text(lvs_cf(listener, dead))
    clock = Clock()
    worker = Worker("memory", clock=clock, arp_count=0)
    worker.open_driver()
    worker.load_config()
    down = frozenset(r for r in worker.book.servers if r.port == dead)
    assert worker.apply_if_needed(down)
    key = ServiceKey.for_address("tcp", "192.0.2.80", listener)
    assert set(memory.table[key].destinations) == {("127.0.0.1", listener)}
    call_command("applylvs", "--driver", "memory", "--no-arp")
    assert ("127.0.0.1", dead) in memory.table[key].destinations
    assert not worker.apply_if_needed(down)  # nothing changed, and repair is not due yet
    clock.now += 5
    assert worker.apply_if_needed(down)
    assert set(memory.table[key].destinations) == {("127.0.0.1", listener)}


def test_the_worker_repairs_a_flushed_table_and_a_quiet_repair_sends_nothing(
    memory, listener, settings
):
    settings.LVSADMIN_DRIFT_REPAIR_SECONDS = 5
    publish(lvs_cf(listener, listener))
    clock = Clock()
    worker = Worker("memory", clock=clock, arp_count=0)
    worker.open_driver()
    worker.load_config()
    assert worker.apply_if_needed(frozenset())
    expected = memory.dump()
    sent = memory.messages_sent
    clock.now += 5
    assert worker.apply_if_needed(frozenset())  # repair ran: one read, no operation
    assert memory.messages_sent == sent
    memory.table.clear()  # someone's ipvsadm -C
    clock.now += 5
    assert worker.apply_if_needed(frozenset())
    assert memory.table.keys() == expected.keys()


def run_in_thread(worker: Worker):
    import threading

    thread = threading.Thread(target=lambda: asyncio.run(worker.run()), daemon=True)
    thread.start()
    return thread


def wait_until(condition, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_applylvs_with_a_live_worker_asks_it_and_never_re_adds_a_dead_server(
    memory, listener, settings, capsys
):
    dead = free_port()
    publish(lvs_cf(listener, dead))
    settings.LVSADMIN_LVS_CF.write_text(lvs_cf(listener, dead))
    worker = Worker("memory", arp_count=0)
    thread = run_in_thread(worker)
    key = ServiceKey.for_address("tcp", "192.0.2.80", listener)
    try:
        wait_until(
            lambda: (
                key in memory.table
                and set(memory.table[key].destinations) == {("127.0.0.1", listener)}
            )
        )
        call_command("applylvs", "--driver", "memory", "--no-arp")
        out = capsys.readouterr().out
        assert "the running worker converged (health included)" in out
        assert set(memory.table[key].destinations) == {("127.0.0.1", listener)}
        call_command("applylvs", "--driver", "memory", "--dry-run")
        out = capsys.readouterr().out
        assert "a worker is running" in out and "nothing to do" in out
    finally:
        worker.stop()
        thread.join(timeout=20)


def test_a_second_worker_refuses_to_start(memory, listener):
    publish(lvs_cf(listener, listener))
    first = Worker("memory", arp_count=0)
    thread = run_in_thread(first)
    try:
        wait_until(lambda: bool(memory.table))
        with pytest.raises(RuntimeError, match="another worker is running"):
            asyncio.run(Worker("memory", arp_count=0).run())
    finally:
        first.stop()
        thread.join(timeout=20)


# --- a worker that never dies -------------------------------------------------------------------


def test_a_locked_database_does_not_stop_the_worker(memory, listener, monkeypatch):
    from django.db import OperationalError

    from monitoring.worker import status

    publish(lvs_cf(listener, listener))
    real_write = status.StatusWriter.write
    failures = {"status": 0, "config": 0}

    def locked_write(self, *args, **kwargs):
        if failures["status"] < 2:
            failures["status"] += 1
            raise OperationalError("database is locked")
        return real_write(self, *args, **kwargs)

    real_read = Worker.read_config

    def locked_read(self, force=False):
        if failures["config"] < 1:
            failures["config"] += 1
            raise OperationalError("database is locked")
        return real_read(self, force)

    monkeypatch.setattr(status.StatusWriter, "write", locked_write)
    monkeypatch.setattr(Worker, "read_config", locked_read)
    worker = Worker("memory", arp_count=0)
    thread = run_in_thread(worker)
    try:
        wait_until(lambda: WorkerStatus.objects.filter(heartbeat__isnull=False).exists(), 20)
        assert thread.is_alive()
        assert memory.table  # the configuration was read on the retry and applied
    finally:
        worker.stop()
        thread.join(timeout=20)
    assert failures == {"status": 2, "config": 1}


def test_a_probe_that_raises_marks_its_server_down_and_the_checks_go_on(
    memory, listener, monkeypatch
):
    from monitoring.worker import loop

    async def broken_probe(address, port, spec, path):
        raise ValueError("a bug in one probe")

    publish(lvs_cf(listener, listener))
    monkeypatch.setattr(loop, "probe_both_ways", broken_probe)
    monkeypatch.setattr(loop, "is_plain_connect", lambda spec: False)
    worker = Worker("memory", arp_count=0)
    thread = run_in_thread(worker)
    try:
        wait_until(lambda: bool(worker.book.down()))
        (server,) = {s.reason for s in worker.book.states()}
        assert "check error: ValueError: a bug in one probe" in server
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(timeout=20)


def test_a_restarted_worker_says_so_on_control_monitoring(memory, listener, admin_client):
    publish(lvs_cf(listener, listener))
    first = Worker("memory", arp_count=0)
    first.write_status(force=True)
    first_seen = WorkerStatus.objects.get().heartbeat
    page = admin_client.get("/live/").content.decode()
    assert "since" in page and "restarted" not in page
    second = Worker("memory", arp_count=0)  # as make run's loop or systemd starts it again
    second.write_status(force=True)
    status = WorkerStatus.objects.get()
    assert status.previous_heartbeat == first_seen
    assert status.started_at is not None and status.started_at >= first_seen
    page = admin_client.get("/live/").content.decode()
    assert "restarted; the previous worker was last seen at" in page


def test_a_revision_from_the_peer_already_found_by_the_poll_is_not_enforced_twice(
    memory, listener, caplog
):
    """The configuration follower stores a revision and tells the worker; when the worker's own
    poll found it first, the follower's call must not converge it a second time (a full dump and
    diff, seconds on a slow standby)."""
    import logging

    dead = free_port()
    publish(lvs_cf(listener, dead))
    worker = Worker("memory", arp_count=0)
    thread = run_in_thread(worker)
    try:
        wait_until(lambda: worker.serial == 1)
        with caplog.at_level(logging.INFO, logger="lvsadmin.worker"):
            publish(lvs_cf(listener, dead).replace("scheduler = wlc", "scheduler = rr"), serial=2)
            wait_until(lambda: worker.serial == 2)
            worker.reread_config()  # the follower's call, after the poll's read
            time.sleep(1.0)  # many passes of the loop
        enforced = [r for r in caplog.messages if r == "enforcing revision 2"]
        assert len(enforced) == 1, caplog.messages
    finally:
        worker.stop()
        thread.join(timeout=20)


def test_the_redundancy_step_learns_when_the_table_is_loaded(memory, listener, monkeypatch):
    """keepalived is held in FAULT until then (monitoring.redundancy.keepalived)."""
    publish(lvs_cf(listener, free_port()))
    worker = Worker("memory", arp_count=0)
    loaded = []

    def step(config, driver, serial, table_loaded=False, *_health):  # down, held: BGP's
        loaded.append(table_loaded)

    monkeypatch.setattr(worker.redundancy, "step", step)
    worker.open_driver()
    worker.use_config(worker.poll())
    worker.poll()
    assert loaded == [False, False]  # configuration read, table not applied yet
    assert worker.apply_if_needed(frozenset())
    worker.poll()
    assert loaded[-1] is True


def test_a_step_keeps_its_database_connection_until_an_error_leaves_it_unusable(monkeypatch):
    # Opening a connection before every step (close_old_connections with CONN_MAX_AGE 0) was
    # the most expensive part of an unchanged poll, twice a second (bench_worker.py).
    from django.db import connection

    from monitoring.worker.loop import drop_unusable_connections

    def step() -> object:
        drop_unusable_connections()
        assert Revision.objects.count() == 0
        return connection.connection

    first = step()
    assert step() is first
    connection.errors_occurred = True  # a query failed; the connection still answers
    assert step() is first and not connection.errors_occurred
    connection.errors_occurred = True
    monkeypatch.setattr(connection, "is_usable", lambda: False)  # the server went away
    assert step() is not first


class HandedOver:
    """Stands for the connect scanner: what the worker handed it last."""

    def __init__(self) -> None:
        self.checks: dict = {}

    def watch(self, checks: dict) -> None:
        self.checks = dict(checks)


def test_plain_connect_checks_go_to_the_scanner_and_a_send_expect_check_comes_back(
    memory, listener
):
    worker = Worker("memory", arp_count=0)
    worker.scanner = HandedOver()
    port = free_port()
    publish(lvs_cf(listener, port))
    worker.load_config()
    up1, down1 = sorted(worker.book.servers, key=lambda ref: ref.port != listener)
    handed = worker.scanner.checks
    assert set(handed) == {up1, down1}
    assert (handed[up1].address, handed[up1].port, handed[up1].timeout) == (
        "127.0.0.1",
        listener,
        2,
    )
    assert handed[up1].quiet_after == 2  # reentry 4 / timeout 2: the passes a return needs
    assert worker.book.due(time.time() + 60) == []  # the book schedules none of them
    # The same servers, now checked with send/expect: the probes' job, scheduled by the book.
    text = lvs_cf(listener, port).replace("protocol = tcp", 'protocol = tcp\n     send = "x"')
    publish(text.replace("serial_no = 1", "serial_no = 2"), serial=2)
    worker.load_config()
    assert worker.scanner.checks == {}
    assert {s.ref for s in worker.book.due(time.time() + 60)} == {up1, down1}


def test_the_worker_keeps_small_sqlite_page_caches_and_gives_back_what_a_round_freed(
    memory, listener, monkeypatch
):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from monitoring.worker import heap, loop

    def cache_size() -> int | None:  # on the calling thread's own connection
        if connection.vendor != "sqlite":
            return None
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            return cursor.fetchone()[0]

    seen, given = [], []
    write_status = Worker.write_status

    def recording(self, *args, **kwargs):
        seen.append(cache_size())
        return write_status(self, *args, **kwargs)

    monkeypatch.setattr(Worker, "write_status", recording)
    monkeypatch.setattr(heap, "give_back", lambda: given.append(True) or True)
    publish(lvs_cf(listener, free_port()))
    call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    small = -loop.SQLITE_CACHE_KIB if connection.vendor == "sqlite" else None
    assert seen == [small] and given == [True]
    # Once the worker stopped, a new connection (the web's, in the tests' process) keeps
    # SQLite's default.
    with ThreadPoolExecutor(1) as other:
        default = other.submit(lambda: (cache_size(), connection.close())[0]).result()
    assert default == (-2000 if connection.vendor == "sqlite" else None)
