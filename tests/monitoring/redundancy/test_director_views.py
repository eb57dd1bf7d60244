"""CONTROL/MONITORING's DIRECTOR panel and the hand-over of the active role."""

import json

import pytest
from django.urls import reverse

from monitoring.models import AuditEntry
from monitoring.redundancy.director import handing_over
from monitoring.redundancy.role import write_role

pytestmark = pytest.mark.django_db
CONTROL = reverse("monitoring:control")
HANDOVER = reverse("monitoring:handover")


@pytest.fixture(autouse=True)
def files(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_ROLE_FILE = tmp_path / "director-role.json"
    settings.LVSADMIN_VRRP_YIELD_FILE = tmp_path / "vrrp-yield"
    settings.LVSADMIN_REDUNDANCY_STATUS = tmp_path / "redundancy-status.json"
    return settings


def test_a_single_director_shows_no_director_panel(admin_client):
    assert "DIRECTOR</div>" not in admin_client.get(CONTROL).content.decode()


def test_it_shows_the_role_the_peer_and_why(admin_client, files):
    write_role(
        files.LVSADMIN_ROLE_FILE,
        "standby",
        "keepalived: BACKUP (the peer holds the VIPs)",
        "192.0.2.1",
        now=1764300000,
    )
    files.LVSADMIN_REDUNDANCY_STATUS.write_text(json.dumps({
        "enabled": True, "message": "", "takeover_seconds": 3.61,
        "sync_daemons": [{"state": "backup", "iface": "eth0", "syncid": 9}],
    }))  # fmt: skip
    html = admin_client.get(CONTROL).content.decode()
    assert "STANDBY" in html and "192.0.2.1" in html
    assert "2025-11-28 03:20:00 UTC" in html
    assert "keepalived: BACKUP (the peer holds the VIPs)" in html
    assert "backup on eth0 (syncid 9)" in html
    assert "3.61 s without" in html
    assert HANDOVER not in html  # only the active director can hand over


def test_a_missing_keepalived_is_shown_as_an_error(admin_client, files):
    write_role(files.LVSADMIN_ROLE_FILE, "fault", "keepalived missing")
    files.LVSADMIN_REDUNDANCY_STATUS.write_text(json.dumps({
        "enabled": True,
        "message": "backup_active = 1 but keepalived (keepalived) is not installed",
    }))  # fmt: skip
    html = admin_client.get(CONTROL).content.decode()
    assert 'alert-danger" role="status">backup_active = 1 but keepalived' in html
    assert "FAULT" in html


def test_the_active_director_offers_the_hand_over_behind_a_confirmation(admin_client, files):
    write_role(files.LVSADMIN_ROLE_FILE, "active", "keepalived: MASTER", "192.0.2.2")
    assert HANDOVER in admin_client.get(CONTROL).content.decode()
    page = admin_client.get(HANDOVER).content.decode()
    assert "Give the VIPs to the peer director 192.0.2.2?" in page
    assert not handing_over(files.LVSADMIN_VRRP_YIELD_FILE)  # GET changes nothing


def test_post_hands_the_role_over_and_is_audited(admin_client, files):
    write_role(files.LVSADMIN_ROLE_FILE, "active", "keepalived: MASTER", "192.0.2.2")
    response = admin_client.post(HANDOVER, follow=True)
    assert handing_over(files.LVSADMIN_VRRP_YIELD_FILE)
    assert "Handing the active role to 192.0.2.2" in response.content.decode()
    assert AuditEntry.objects.filter(action="handover").exists()


def test_a_standby_refuses_to_hand_over(admin_client, files):
    write_role(files.LVSADMIN_ROLE_FILE, "standby", "keepalived: BACKUP", "192.0.2.1")
    response = admin_client.post(HANDOVER, follow=True)
    assert not handing_over(files.LVSADMIN_VRRP_YIELD_FILE)
    # The standby's read-only gate (monitoring/peersync/standby.py) answers before the view's
    # own check ("not the active one"): either way nothing is handed over.
    assert response.status_code == 403
    assert "Nothing was changed" in response.content.decode()
