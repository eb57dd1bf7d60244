"""The pages fit a 1280 px window, and configured state is not worded like health."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.live.worker_table import replace_table
from monitoring.models import ConnectionSample, RealServerHealth, WorkerStatus
from realservers.models import RealServer
from tests.browser.conftest import log_in, tab
from virtualservers.models import VirtualServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A long reason, as a failed send/expect check reports it.
REASON = (
    "expected 'HTTP/1.1 200' but the reply began with 'HTTP/1.1 503 Service Temporarily "
    "Unavailable' after 1204 ms"
)
# The widest endpoint text an IPv6 real server gives.
WIDE = "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"


def seed_live_table() -> None:
    now = timezone.now()
    destinations = [
        {"endpoint": f"[{WIDE}]:65535", "address": WIDE, "port": 65535, "forward": "Masq",
         "weight": 65535, "active": 123456, "inact": 1234567},
        {"endpoint": "198.51.100.2:65535", "address": "198.51.100.2", "port": 65535,
         "forward": "Tunnel", "weight": 1, "active": 0, "inact": 0},
    ]  # fmt: skip
    WorkerStatus.objects.update_or_create(
        pk=1,
        defaults={
            "heartbeat": now,
            "serial_no": 7,
            "kernel_ok": True,
        },
    )
    replace_table(
        [
            {
                "service": f"TCP  [{WIDE}]:65535",
                "scheduler": "wlc",
                "flags": "persistent 360",
                "virtual": "www",
                "destinations": destinations,
            },
        ]
    )
    for address, state in ((WIDE, "down"), ("198.51.100.2", "up")):
        health = RealServerHealth.objects.create(
            virtual_name="www", address=address, port=65535, state=state,
            last_error=REASON if state == "down" else "", last_check=now, since=now,
            latency_ms=1234.5,
        )  # fmt: skip
        for minutes in range(0, 60, 5):
            at = now - timedelta(minutes=minutes)
            ConnectionSample.objects.create(
                health=health, at=at, minute=int(at.timestamp() // 60),
                active_conn=minutes, inact_conn=0,
            )  # fmt: skip


def test_the_live_table_fits_a_1280_px_window_with_the_reason_on_one_line(
    live_server, page, lvs_cf, piranha, screenshot
):
    seed_live_table()
    log_in(page, live_server.url)
    page.get_by_text("Temporarily").first.wait_for()
    screenshot("live-table-1280")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page is {width} px wide in a 1280 px window"
    # Nor is the table cut off by a scrolling box: its last column is in the window.
    last = page.get_by_role("columnheader", name="LAST HOUR").bounding_box()
    assert last["x"] + last["width"] <= 1280
    table = page.locator("table.lvs-live")
    assert table.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth")
    reason = (
        page.get_by_role("row")
        .filter(has_text=WIDE)
        .get_by_role("cell")
        .filter(has_text="Temporarily")
    )
    endpoint = page.get_by_role("row").filter(has_text=WIDE).get_by_role("cell").first
    # One line: no taller than the row's plain cells; the whole reason stays in its title.
    assert reason.bounding_box()["height"] <= endpoint.bounding_box()["height"] * 1.2
    assert reason.get_attribute("title") == REASON


def test_server_lists_say_active_or_inactive_not_up_or_down(live_server, page, piranha):
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.80", active=True)
    RealServer.objects.create(virtual_server=virtual, name="web1", address="198.51.100.1")
    log_in(page, live_server.url)
    tab(page, "VIRTUAL SERVERS")
    row = page.get_by_role("row").filter(has_text="192.0.2.80")
    assert row.get_by_role("cell").first.inner_text() == "active"
    page.get_by_role("link", name="www").click()
    page.get_by_role("link", name="REAL SERVER").click()
    row = page.get_by_role("row").filter(has_text="198.51.100.1")
    assert row.get_by_role("cell").first.inner_text() == "inactive"
