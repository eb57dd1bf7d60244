"""The live part of CONTROL/MONITORING: daemon running or stopped, the table, each real
server's health and reason, the connection graph, and refresh without state changes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring.models import ConnectionSample, RealServerHealth, WorkerStatus

pytestmark = pytest.mark.django_db
TABLE = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.240:3306 lc
  -> 192.0.2.242:3306             Route   1      3          0
"""


def report(age_seconds: float = 1, message: str = "") -> None:
    WorkerStatus.objects.update_or_create(
        pk=1,
        defaults={"heartbeat": timezone.now() - timedelta(seconds=age_seconds), "serial_no": 4, "table_text": TABLE,
                  "kernel_ok": not message, "kernel_message": message},
    )  # fmt: skip


def health(address: str, state: str, error: str = "", samples=()) -> RealServerHealth:
    row = RealServerHealth.objects.create(
        virtual_name="mysql", address=address, port=3306, state=state, last_error=error,
        last_check=timezone.now(), since=timezone.now(), latency_ms=1.5, weight=1 if state == "up" else None,
    )  # fmt: skip
    for minutes, count in samples:
        ConnectionSample.objects.create(
            health=row,
            at=timezone.now() - timedelta(minutes=minutes),
            active_conn=count,
            inact_conn=0,
        )
    return row


def test_it_says_the_daemon_is_running_and_shows_the_table_with_health(admin_client):
    report()
    health("192.0.2.241", "down", "connection refused")
    health("192.0.2.242", "up", samples=[(30, 1), (20, 4), (10, 2)])
    html = admin_client.get(reverse("control")).content.decode()
    assert 'Daemon:\n    <strong class="text-success">running</strong>' in html
    assert "TCP  192.0.2.240:3306 lc" in html
    assert "192.0.2.241:3306</td>" in html and "connection refused" in html
    assert html.count("<polyline") == 1  # a graph for the server with samples


def test_it_says_the_daemon_is_stopped_when_the_heartbeat_is_old(admin_client):
    report(age_seconds=60)
    html = admin_client.get(reverse("control")).content.decode()
    assert '<strong class="text-danger">stopped</strong>' in html


def test_it_says_why_the_kernel_cannot_be_changed(admin_client):
    report(message="this kernel has no IPVS support")
    html = admin_client.get(reverse("control")).content.decode()
    assert "Kernel: this kernel has no IPVS support" in html


def test_it_refreshes_the_panel_alone_with_htmx_and_the_page_without_js(admin_client):
    report()
    html = admin_client.get(reverse("control") + "?auto_update=1&rate=5").content.decode()
    assert 'hx-trigger="every 5s"' in html
    assert '<meta http-equiv="refresh" content="5">' in html
    panel = admin_client.get(reverse("live_panel") + "?auto_update=1&rate=5")
    assert (
        panel.status_code == 200
        and b"<html" not in panel.content
        and b"TCP  192.0.2.240:3306" in panel.content
    )


@pytest.mark.parametrize("rate", ["0", "-3", "1", "abc", "5s, load"])
def test_an_interval_below_two_seconds_or_not_a_number_is_never_used_as_is(admin_client, rate):
    report()
    html = admin_client.get(reverse("control"), {"auto_update": "1", "rate": rate}).content.decode()
    expected = "2" if rate.lstrip("-").isdigit() else "10"
    assert f'hx-trigger="every {expected}s"' in html
    assert f'<meta http-equiv="refresh" content="{expected}">' in html
    assert f'name="rate" id="rate" value="{expected}"' in html
    assert "load" not in html.split('id="live-panel"')[1].split(">")[0]


def test_the_panel_only_reads(admin_client):
    assert admin_client.post(reverse("live_panel")).status_code == 405


def test_it_uses_a_constant_number_of_queries(admin_client):
    report()
    health("192.0.2.241", "up", samples=[(5, 1), (1, 2)])
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("live_panel"))
    for i in range(30):
        health(f"198.51.100.{i + 1}", "up", samples=[(5, 1), (1, 2)])
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse("live_panel"))
    assert len(many) == len(few)
