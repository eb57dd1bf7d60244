"""CONTROL/MONITORING's BGP panel, "Take this director out of service" (GUI and API), and the
BGP gauges of /metrics, from the worker's state file as monitoring.bgp.director writes it."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitoring.bgp import announce, service
from monitoring.bgp.views import BGP_WORDS
from monitoring.live.worker_table import replace_table
from monitoring.models import AuditEntry, WorkerStatus
from tests.monitoring.api.api_support import api_client, member

pytestmark = pytest.mark.django_db
CONTROL = reverse("monitoring:control")
SERVICE = reverse("monitoring:director_service")
TOKEN = "a-long-random-scrape-token-0123456789"
UP_FOR = 125  # seconds the worker says router1's session has been Established


@pytest.fixture(autouse=True)
def files(settings, tmp_path):
    for name in ("LVS_CF", "ROLE_FILE", "REDUNDANCY_STATUS", "BGP_OUT_OF_SERVICE_FILE",
                 "APPLY_STATE"):  # fmt: skip
        setattr(settings, f"LVSADMIN_{name}", tmp_path / name.lower())
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    return settings


def worker_wrote(files, in_service=True, withdrawn=None):
    since = time.time() - UP_FOR
    bgp = {
        "enabled": True,
        "in_service": in_service,
        "announced": [] if withdrawn else ["192.0.2.100"],
        "withdrawn": withdrawn or {},
        "message": "",
        "sessions": [
            {"name": "router1", "state": "up", "since": "", "since_timestamp": since,
             "info": "Established", "established": True},
            {"name": "router2", "state": "start", "since": "", "since_timestamp": since,
             "info": "Active", "established": False},
        ],
    }  # fmt: skip
    files.LVSADMIN_REDUNDANCY_STATUS.write_text(json.dumps({"enabled": False, "bgp": bgp}))
    WorkerStatus.objects.update_or_create(
        pk=1,
        defaults={
            "heartbeat": timezone.now(),
        },
    )
    replace_table([
        {"service": "TCP  192.0.2.100:3306", "scheduler": "mh", "flags": "",
         "virtual": "db", "destinations": [
             {"endpoint": "198.51.100.11:3306", "address": "198.51.100.11",
              "port": 3306, "forward": "Route", "weight": 1, "active": 5, "inact": 2}]},
    ])  # fmt: skip


def test_outside_the_bgp_mode_there_is_no_bgp_panel(admin_client):
    html = admin_client.get(CONTROL).content.decode()
    assert "BGP</div>" not in html and SERVICE not in html


def test_control_shows_the_sessions_uptime_the_vips_and_this_directors_connections(
    admin_client, files
):
    worker_wrote(files)
    html = admin_client.get(CONTROL).content.decode()
    assert "Active-active (BGP)" in html and "IN SERVICE" in html
    row = html[html.index("<td>router1</td>") :].split("</tr>")[0]
    assert "Established" in row
    uptime = int(row.rsplit("<td>", 1)[1].split(" s")[0])
    assert UP_FOR <= uptime < UP_FOR + 60
    assert "<td>router2</td>" in html and 'text-danger">Active' in html
    assert "192.0.2.100" in html and "announced" in html
    assert "7 connections on this director's VIPs" in html
    assert "Take this director out of service…" in html


def test_a_withdrawn_vip_says_why_in_the_readers_language(admin_client, files):
    worker_wrote(files, withdrawn={"192.0.2.100": announce.NOBODY_UP})
    html = admin_client.get(CONTROL).content.decode()
    assert "withdrawn: no real server (nor sorry server) of its virtual servers is up" in html
    html = admin_client.get(CONTROL, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "retirada: ningún servidor real" in html


def test_every_reason_the_step_records_is_translated():
    reasons = {announce.NOT_LOADED, announce.STOPPED, announce.NOBODY_UP, announce.OUT_OF_SERVICE}
    assert reasons <= BGP_WORDS.phrases


def test_taking_the_director_out_asks_first_then_withdraws_and_is_audited(admin_client, files):
    worker_wrote(files)
    page = admin_client.get(SERVICE).content.decode()
    assert "Withdraw every VIP this director announces?" in page
    assert not service.out_of_service(files.LVSADMIN_BGP_OUT_OF_SERVICE_FILE)  # GET: nothing
    response = admin_client.post(SERVICE, {"action": "out"}, follow=True)
    assert service.out_of_service(files.LVSADMIN_BGP_OUT_OF_SERVICE_FILE)
    html = response.content.decode()
    assert "This director is out of service" in html
    assert "OUT OF SERVICE (taken out by an operator)" in html
    assert "(waiting for the worker)" in html  # the worker still says in service
    entry = AuditEntry.objects.get(action="bgp_service")
    assert entry.changes == {"out_of_service": True} and entry.username == "admin"
    page = admin_client.get(SERVICE).content.decode()
    assert "PUT BACK IN SERVICE" in page
    admin_client.post(SERVICE, {"action": "in"})
    assert not service.out_of_service(files.LVSADMIN_BGP_OUT_OF_SERVICE_FILE)
    assert AuditEntry.objects.filter(action="bgp_service").count() == 2


def test_a_viewer_cannot_take_the_director_out(client, files):
    client.force_login(member("viewer"))
    assert client.post(SERVICE, {"action": "out"}).status_code == 403
    assert not service.out_of_service(files.LVSADMIN_BGP_OUT_OF_SERVICE_FILE)
    assert not AuditEntry.objects.filter(action="bgp_service").exists()


def test_the_api_takes_the_director_out_and_back_for_an_operator_only(files):
    flag = files.LVSADMIN_BGP_OUT_OF_SERVICE_FILE
    viewer = api_client(member("viewer"))
    assert viewer.post("/api/director/out-of-service/").status_code == 403
    assert not service.out_of_service(flag)
    operator = api_client(member("operator"))
    answer = operator.post("/api/director/out-of-service/").json()
    assert answer["changed"] and answer["out_of_service"] and service.out_of_service(flag)
    assert operator.post("/api/director/out-of-service/").json()["changed"] is False
    assert operator.post("/api/director/in-service/").json()["out_of_service"] is False
    assert not service.out_of_service(flag)
    assert AuditEntry.objects.filter(action="bgp_service").count() == 2


def scrape() -> dict:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def values(family) -> dict:
    return {tuple(s.labels.values()): s.value for s in family.samples}


def test_metrics_gauge_the_sessions_the_announcements_and_the_connections(files):
    worker_wrote(files, in_service=False, withdrawn={"192.0.2.100": announce.OUT_OF_SERVICE})
    service.set_out_of_service(files.LVSADMIN_BGP_OUT_OF_SERVICE_FILE, True)
    families = scrape()
    assert values(families["lvsadmin_bgp_session_up"]) == {("router1",): 1, ("router2",): 0}
    assert set(values(families["lvsadmin_bgp_session_uptime_seconds"])) == {("router1",)}
    assert values(families["lvsadmin_bgp_vip_announced"]) == {("192.0.2.100",): 0}
    assert values(families["lvsadmin_bgp_vip_connections"]) == {("192.0.2.100",): 7}
    assert values(families["lvsadmin_bgp_out_of_service"]) == {(): 1}


def test_no_bgp_gauges_outside_the_mode(files):
    assert not any(name.startswith("lvsadmin_bgp") for name in scrape())
