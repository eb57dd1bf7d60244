"""The live table through the API: what CONTROL/MONITORING shows, from the worker's reports."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.live.worker_table import replace_table
from monitoring.models import RealServerHealth, WorkerStatus
from tests.monitoring.api.api_support import api_client, member

pytestmark = pytest.mark.django_db


def destination(address: str, weight: int = 1, active: int = 3) -> dict:
    return {"endpoint": f"{address}:3306", "address": address, "port": 3306, "forward": "Route",
            "weight": weight, "active": active, "inact": 0}  # fmt: skip


def report(*services: dict, age: float = 1) -> None:
    WorkerStatus.objects.update_or_create(
        pk=1,
        defaults={
            "heartbeat": timezone.now() - timedelta(seconds=age),
            "serial_no": 4,
            "pid": 99,
            "kernel_ok": True,
        },
    )
    replace_table(services)


def service(virtual: str, *destinations: dict) -> dict:
    # A service of its own for each virtual server ("vs007": port 10007, in the names' order).
    digits = "".join(c for c in virtual if c.isdigit())
    port = 10000 + int(digits) if digits else 3306 + len(virtual)
    return {"service": f"TCP  192.0.2.240:{port}", "scheduler": "lc", "flags": "",
            "virtual": virtual, "destinations": list(destinations)}  # fmt: skip


def health(address: str, state: str, error: str = "", virtual: str = "mysql") -> None:
    RealServerHealth.objects.create(
        virtual_name=virtual, address=address, port=3306, state=state, last_error=error,
        last_check=timezone.now(), since=timezone.now(), latency_ms=1.5,
    )  # fmt: skip


@pytest.fixture
def live():
    client = api_client(member("viewer"))

    def read(**params) -> dict:
        response = client.get("/api/live/", params)
        assert response.status_code == 200
        return response.json()

    return read


def test_it_shows_each_real_server_in_the_table_with_its_health_and_the_ones_taken_out(live):
    report(service("mysql", destination("192.0.2.242", weight=1, active=3)))
    health("192.0.2.242", "up")
    health("192.0.2.241", "down", "connection refused")
    body = live()
    assert body["worker"]["running"] is True and body["worker"]["serial_no"] == 4
    assert body["health_counts"] == {"up": 1, "down": 1}
    (shown,) = body["services"]
    (dest,) = shown["destinations"]
    assert (dest["endpoint"], dest["weight"], dest["active"]) == ("192.0.2.242:3306", 1, 3)
    assert dest["health"]["state"] == "up" and dest["health"]["latency_ms"] == 1.5
    (out,) = shown["out_of_table"]
    assert out["endpoint"] == "192.0.2.241:3306"
    assert (out["health"]["state"], out["health"]["last_error"]) == ("down", "connection refused")


def test_it_says_when_the_worker_is_stopped(live):
    report(age=60)
    assert live()["worker"]["running"] is False


def test_without_a_worker_report_it_shows_an_empty_table(live):
    body = live()
    assert body["services"] == [] and body["worker"]["running"] is False


def test_it_keeps_one_virtual_servers_services(live):
    report(service("mysql", destination("192.0.2.242")), service("www", destination("192.0.2.10")))
    health("192.0.2.10", "up", virtual="www")
    (shown,) = live(virtual="www")["services"]
    assert shown["virtual"] == "www"
    assert shown["destinations"][0]["health"]["state"] == "up"


def test_it_shows_a_hundred_services_a_page(live):
    report(*(service(f"vs{n:03d}", destination("192.0.2.10")) for n in range(150)))
    first, second = live(), live(page=2)
    assert (first["page"], first["pages"], len(first["services"])) == (1, 2, 100)
    assert (second["page"], len(second["services"])) == (2, 50)
    assert second["services"][0]["virtual"] == "vs100"
    assert live(page=7)["page"] == 2  # past the last page: the last


@pytest.mark.parametrize("page", ["x", "null", "0", "-1", "9" * 30])
def test_a_page_that_is_no_page_number_is_the_lists_404(page):
    # schemathesis: ?page=null, which the schema refuses, was answered with the first page.
    response = api_client(member("viewer")).get("/api/live/", {"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}
