"""CONTROL/MONITORING in a real browser while the worker runs: a real server's listener stops,
the page (refreshing itself) shows it down with the reason; it comes back, the page shows it up."""

import asyncio
import io
import socket
import sys
import threading

import pytest
from django.core.management import call_command

from monitoring.ipvs import drivers
from monitoring.models import Revision
from monitoring.worker.loop import Worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "live-Browser-pass-1"


def listen(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(50)
    return sock


@pytest.fixture
def worker(monkeypatch, settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    monkeypatch.setattr(drivers, "_MEMORY_SINGLETON", drivers.MemoryDriver())
    instance = Worker("memory", arp_count=0)
    thread = threading.Thread(target=lambda: asyncio.run(instance.run()), daemon=True)
    yield instance, thread
    instance.stop()
    thread.join(timeout=20)


def test_the_page_shows_a_real_server_going_down_and_coming_back(
    live_server, page, screenshot, worker
):
    class Stdin(io.StringIO):
        def isatty(self) -> bool:
            return False

    sys_stdin = sys.stdin
    sys.stdin = Stdin(PASSWORD + "\n")
    try:
        call_command("lvspasswd", stdout=io.StringIO())
    finally:
        sys.stdin = sys_stdin
    server = listen()
    port = server.getsockname()[1]
    Revision.objects.create(
        serial_no=1,
        text=(
            "serial_no = 1\nnetwork = direct\nvirtual web {\n     active = 1\n"
            f"     address = 192.0.2.80 eth0:1\n     port = {port}\n     scheduler = wlc\n"
            "     protocol = tcp\n     timeout = 1\n     reentry = 2\n"
            "     server web1 {\n         address = 127.0.0.1\n         active = 1\n     }\n}\n"
        ),
    )
    instance, thread = worker
    thread.start()

    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("piranha")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Auto update").check()
    page.get_by_label("Update Interval:").fill("2")
    page.get_by_role("button", name="Update information now").click()
    row = page.get_by_role("row").filter(has_text=f"127.0.0.1:{port}")
    row.get_by_text("up", exact=True).wait_for(timeout=20000)
    assert page.get_by_text("running").is_visible()
    assert page.get_by_text(f"TCP  192.0.2.80:{port} wlc").is_visible()

    server.close()
    row.get_by_text("down", exact=True).wait_for(timeout=20000)
    assert row.get_by_text("connection refused").is_visible()
    screenshot("10-control-monitoring-real-server-down")

    server = listen(port)
    try:
        row.get_by_text("up", exact=True).wait_for(timeout=20000)
        screenshot("11-control-monitoring-real-server-back")
    finally:
        server.close()
