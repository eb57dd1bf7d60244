"""The live part of CONTROL/MONITORING: daemon running or stopped, the table, each real
server's health and reason, the connection graph, and refresh without state changes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring.live.worker_table import replace_table
from monitoring.models import ConnectionSample, RealServerHealth, WorkerStatus

pytestmark = pytest.mark.django_db
TABLE = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.240:3306 lc
  -> 192.0.2.242:3306             Route   1      3          0         \n"""  # ipvsadm pads the last column too


def destination(address: str, weight: int = 1, active: int = 3) -> dict:
    return {"endpoint": f"{address}:3306", "address": address, "port": 3306, "forward": "Route",
            "weight": weight, "active": active, "inact": 0}  # fmt: skip


def service(label: str, virtual: str, *destinations: dict) -> dict:
    return {"service": label, "scheduler": "lc", "flags": "", "virtual": virtual,
            "destinations": list(destinations)}  # fmt: skip


SEED_ROWS = [service("TCP  192.0.2.240:3306", "mysql", destination("192.0.2.242"))]


def report(age_seconds: float = 1, message: str = "", rows: list | None = None) -> None:
    WorkerStatus.objects.update_or_create(
        pk=1,
        defaults={"heartbeat": timezone.now() - timedelta(seconds=age_seconds), "serial_no": 4, "table_note": "",
                  "kernel_ok": not message, "kernel_message": message},
    )  # fmt: skip
    replace_table(SEED_ROWS if rows is None else rows)


def health(
    address: str, state: str, error: str = "", samples=(), virtual: str = "mysql"
) -> RealServerHealth:
    row = RealServerHealth.objects.create(
        virtual_name=virtual, address=address, port=3306, state=state, last_error=error,
        last_check=timezone.now(), since=timezone.now(), latency_ms=1.5, weight=1 if state == "up" else None,
    )  # fmt: skip
    for minutes, count in samples:
        ConnectionSample.objects.create(
            health=row,
            at=timezone.now() - timedelta(minutes=minutes),
            minute=int((timezone.now() - timedelta(minutes=minutes)).timestamp() // 60),
            active_conn=count,
            inact_conn=0,
        )
    return row


def test_it_says_the_daemon_is_running_and_shows_the_table_with_health(admin_client):
    report()
    health("192.0.2.241", "down", "connection refused")
    health("192.0.2.242", "up", samples=[(30, 1), (20, 4), (10, 2)])
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    assert 'Daemon:\n    <strong class="text-success">running</strong>' in html
    assert "TCP  192.0.2.240:3306 lc" in html
    assert "192.0.2.241:3306</td>" in html and "connection refused" in html
    assert html.count("<polyline") == 1  # a graph for the server with samples
    assert "Real servers checked: 2" in html and "1 down" in html


def line_of(html: str, endpoint: str) -> str:
    """The table row of one real server."""
    start = html.index(f"{endpoint}</td>")
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_each_real_server_line_shows_its_kernel_columns_and_health_side_by_side(admin_client):
    report()
    health("192.0.2.242", "up")
    health("192.0.2.241", "down", "connection refused")
    html = admin_client.get(reverse("monitoring:live_panel")).content.decode()
    up = line_of(html, "192.0.2.242:3306")
    assert "<td>Route</td><td>1</td><td>3</td><td>0</td>" in up
    assert '<span class="badge text-bg-success">up</span>' in up and "1.5 ms" in up
    # A failed real server has left the kernel table; it still shows, under its service, and why.
    down = line_of(html, "192.0.2.241:3306")
    assert "not in the table" in down and "connection refused" in down
    assert '<span class="badge text-bg-danger">down</span>' in down
    assert html.index("TCP  192.0.2.240:3306") < html.index("192.0.2.241:3306</td>")


def test_a_service_made_by_hand_is_shown_as_not_managed(admin_client):
    report(rows=[*SEED_ROWS, service("UDP  198.51.100.9:53", "", destination("203.0.113.5"))])
    html = admin_client.get(reverse("monitoring:live_panel")).content.decode()
    assert (
        'UDP  198.51.100.9:53 lc</code> <small class="text-muted">not managed by lvsadmin' in html
    )
    assert "not checked" in line_of(html, "203.0.113.5:3306")


def test_a_large_table_is_shown_a_page_of_services_at_a_time(admin_client):
    rows = [
        service(f"TCP  198.51.100.1:{1000 + i}", f"vs{i}", destination("203.0.113.1"))
        for i in range(120)
    ]
    report(rows=rows)
    first = admin_client.get(reverse("monitoring:live_panel")).content.decode()
    assert "vs0</small>" in first and "vs9</small>" in first and "vs10</small>" not in first
    assert "Services 1&ndash;10 of 120" in first and '?page=2#live-table"' in first
    last = admin_client.get(reverse("monitoring:live_panel"), {"page": "12"}).content.decode()
    assert "vs119</small>" in last and "vs109</small>" not in last
    assert "Services 111&ndash;120 of 120" in last and "next</a>" not in last
    assert admin_client.get(reverse("monitoring:live_panel"), {"page": "x"}).status_code == 200


def test_the_whole_table_is_there_as_ipvsadm_prints_it(admin_client):
    report()
    response = admin_client.get(reverse("monitoring:live_table_text"))
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == TABLE


def test_the_graph_spaces_samples_by_time():
    from monitoring.live.panel import GRAPH_W, sparkline

    points = sparkline([(3600, 1), (1800, 1), (0, 1)])
    xs = [float(point.split(",")[0]) for point in points.split()]
    assert xs == [0.0, GRAPH_W / 2, GRAPH_W]
    # Two samples five minutes apart, the last one 55 minutes ago: a gap, not a full-width line.
    late = sparkline([(3600, 2), (3300, 1)])
    assert max(float(point.split(",")[0]) for point in late.split()) < GRAPH_W / 2


def test_it_says_the_daemon_is_stopped_when_the_heartbeat_is_old(admin_client):
    report(age_seconds=60)
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    assert '<strong class="text-danger">stopped</strong>' in html


def test_it_says_why_the_kernel_cannot_be_changed(admin_client):
    report(message="this kernel has no IPVS support")
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    assert "Kernel: this kernel has no IPVS support" in html


def test_it_refreshes_the_panel_alone_with_htmx_and_the_page_without_js(admin_client):
    report()
    html = admin_client.get(
        reverse("monitoring:control") + "?auto_update=1&rate=5"
    ).content.decode()
    assert 'hx-trigger="every 5s"' in html
    assert '<meta http-equiv="refresh" content="5">' in html
    panel = admin_client.get(reverse("monitoring:live_panel") + "?auto_update=1&rate=5")
    assert (
        panel.status_code == 200
        and b"<html" not in panel.content
        and b"TCP  192.0.2.240:3306" in panel.content
    )


@pytest.mark.parametrize("rate", ["0", "-3", "1", "abc", "5s, load"])
def test_an_interval_below_two_seconds_or_not_a_number_is_never_used_as_is(admin_client, rate):
    report()
    html = admin_client.get(
        reverse("monitoring:control"), {"auto_update": "1", "rate": rate}
    ).content.decode()
    expected = "2" if rate.lstrip("-").isdigit() else "10"
    assert f'hx-trigger="every {expected}s"' in html
    assert f'<meta http-equiv="refresh" content="{expected}">' in html
    assert f'name="rate" id="rate" value="{expected}"' in html
    assert "load" not in html.split('id="live-panel"')[1].split(">")[0]


def test_the_panel_only_reads(admin_client):
    assert admin_client.post(reverse("monitoring:live_panel")).status_code == 405


def test_it_uses_a_constant_number_of_queries(admin_client):
    report()
    health("192.0.2.241", "up", samples=[(5, 1), (1, 2)])
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("monitoring:live_panel"))
    rows = list(SEED_ROWS)
    for i in range(30):
        health(f"198.51.100.{i + 1}", "up", samples=[(5, 1), (1, 2)], virtual=f"vs{i}")
        rows.append(
            service(f"TCP  192.0.2.{i + 1}:80", f"vs{i}", destination(f"198.51.100.{i + 1}"))
        )
    report(rows=rows)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse("monitoring:live_panel"))
    assert len(many) == len(few)


def many_services(count: int) -> list[dict]:
    return [
        service(f"TCP  198.51.100.{i + 1}:80", f"vs{i}", destination(f"203.0.113.{i + 1}"))
        for i in range(count)
    ]


def test_down_now_counts_per_virtual_server_names_the_first_few_and_links_to_the_rest(
    admin_client,
):
    report()
    for i in range(7):
        health(f"192.0.2.{10 + i}", "down", "connection refused")
    health("203.0.113.9", "down", "timed out", virtual="web")
    health("192.0.2.242", "up")
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    down = html.split('class="mb-1 small lvs-down-now"')[1].split("</div>")[0]
    assert "2 virtual servers have a real server down" in down
    assert '<span class="text-danger">mysql</span>: 7 down' in down
    assert "192.0.2.10:3306 (connection refused), 192.0.2.11:3306" in down
    assert "192.0.2.12:3306" in down and "192.0.2.13:3306" not in down
    assert "and 4 more" in down
    assert '<span class="text-danger">web</span>: 1 down' in down
    assert '/?show=problems#live-table">' in down


def test_down_now_stays_short_with_a_thousand_down(admin_client):
    report()
    for v in range(12):
        for i in range(4):
            health(f"198.51.100.{i + 1}", "down", "connection refused", virtual=f"vs{v:02d}")
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    down = html.split('class="mb-1 small lvs-down-now"')[1].split("</div>")[0]
    assert "12 virtual servers have a real server down (the 5 with the most:)" in down
    assert down.count("<li>") == 5 and down.count("and 1 more") == 5


def test_the_live_table_finds_a_service_by_name_vip_or_real_server_address(admin_client):
    report(rows=many_services(60))
    health("192.0.2.77", "down", "connection refused", virtual="vs41")  # out of the table
    panel = reverse("monitoring:live_panel")

    def shown(query: str) -> list[str]:
        html = admin_client.get(panel, {"q": query}).content.decode()
        return [name for name in (f"vs{i}" for i in range(60)) if f"{name}</small>" in html]

    assert shown("vs17") == ["vs17"]
    assert shown("198.51.100.33:80") == ["vs32"]
    assert shown("203.0.113.50") == ["vs49"]
    assert shown("192.0.2.77") == ["vs41"]
    html = admin_client.get(panel, {"q": "vs17"}).content.decode()
    assert "1 service of 60 shown" in html and "search: vs17" in html
    assert "No service matches." in admin_client.get(panel, {"q": "nothing"}).content.decode()


def test_the_live_table_shows_only_the_services_with_a_real_server_down_or_held(admin_client):
    from monitoring.models import RealServerRuntimeState

    report(rows=many_services(30))
    health("203.0.113.4", "down", "connection refused", virtual="vs3")
    health("203.0.113.5", "up", virtual="vs4")
    RealServerRuntimeState.objects.create(
        virtual_name="vs8", address="203.0.113.9", port=3306, state="drain", since=timezone.now()
    )
    html = admin_client.get(reverse("monitoring:live_panel"), {"show": "problems"}).content.decode()
    assert "vs3</small>" in html and "vs8</small>" in html
    assert "vs4</small>" not in html and "vs0</small>" not in html
    assert "2 services of 30 shown" in html and "only down or held" in html


def test_the_live_table_has_page_numbers_that_keep_the_search(admin_client):
    report(rows=many_services(250))
    html = admin_client.get(reverse("monitoring:live_panel"), {"page": "7", "q": "vs"}).content
    html = html.decode()
    assert '<span class="page-link">7</span>' in html  # the current page
    for number in (1, 5, 6, 8, 9, 25):
        assert f'href="?q=vs&amp;page={number}#live-table">{number}</a>' in html
    assert "&hellip;" in html  # pages 2-4 and 10-24 folded
    assert '<nav aria-label="Pages of the live table">' in html


def test_searching_and_filtering_the_live_table_take_a_constant_number_of_queries(admin_client):
    for _ in range(2):  # the first load creates the settings' rows: a draft change
        admin_client.get(reverse("monitoring:control"))  # the pending changes, computed once

    def count(rows: int) -> int:
        report(rows=many_services(rows))
        for i in range(rows):
            health(f"203.0.113.{i + 1}", "down" if i % 2 else "up", virtual=f"vs{i}")
        with CaptureQueriesContext(connection) as queries:
            admin_client.get(reverse("monitoring:control"), {"q": "vs1", "show": "problems"})
        RealServerHealth.objects.all().delete()
        return len(queries)

    assert count(3) == count(40)
