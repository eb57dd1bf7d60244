"""What the operator sees of the ARP guard: CONTROL/MONITORING's warning with the fix, and the
/metrics gauges (read back with the Prometheus parser, as a scraper reads them)."""

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from monitoring.arpguard.guard import Conflict
from monitoring.arpguard.watch import guard_file

pytestmark = pytest.mark.django_db
TOKEN = "a-metrics-token-for-the-arp-guard-test"
KNOWN = Conflict("192.0.2.240", "eth0", "52:54:00:00:00:11", "192.0.2.241", 1000.0)
STRANGER = Conflict("192.0.2.250", "eth0", "52:54:00:00:00:99", "", 1000.0)


@pytest.fixture
def found(settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    data = {"guarded": 2, "conflicts": [{**c.as_dict(), "fix": c.fix()} for c in (KNOWN, STRANGER)]}
    guard_file(Path(settings.LVSADMIN_APPLY_STATE)).write_text(json.dumps(data))
    return settings


def test_control_warns_of_each_host_answering_arp_for_a_vip_with_the_fix(admin_client, found):
    html = admin_client.get(reverse("monitoring:live_panel")).content.decode()
    assert html.count("lvs-arp-conflict") == 2
    assert "VIP 192.0.2.240 is answered by real server 192.0.2.241 (52:54:00:00:00:11)" in html
    assert (
        "VIP 192.0.2.250 is answered by 52:54:00:00:00:99, a host that is neither director" in html
    )
    assert "arp_ignore=1 and arp_announce=2" in html


def test_control_shows_no_warning_without_a_conflict(admin_client, settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    guard_file(tmp_path / "apply-state.json").write_text('{"guarded": 2, "conflicts": []}')
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    assert "lvs-arp-conflict" not in html


def test_metrics_count_the_guarded_vips_and_name_each_conflict(found):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    assert [s.value for s in families["lvsadmin_arp_guard_vips"].samples] == [2]
    conflicts = {
        (s.labels["vip"], s.labels["mac"], s.labels["owner"]): s.value
        for s in families["lvsadmin_vip_arp_conflict"].samples
    }
    assert conflicts == {
        ("192.0.2.240", "52:54:00:00:00:11", "192.0.2.241"): 1,
        ("192.0.2.250", "52:54:00:00:00:99", ""): 1,
    }
