"""/api/.../setup/: the Set up page's texts for scripts, readable by a viewer's token."""

import pytest

from realservers.models import RealServer
from realservers.setup.plan import PASSWORD_PLACEHOLDER
from tests.monitoring.api.api_support import api_client, member
from tests.realservers.setup_support import lvs_cf
from virtualservers.models import CheckKind, MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def real(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_LVS_CF.write_text(lvs_cf(serial=5))
    virtual = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(
        virtual_server=virtual, kind=CheckKind.MYSQL, mysql_user="lvs_check", mysql_password="pw-9"
    )
    return RealServer.objects.create(virtual_server=virtual, name="mysql1", address="192.0.2.241")


def test_a_viewer_reads_a_real_servers_set_up_from_the_published_revision(real):
    client = api_client(member("viewer"))
    response = client.get(
        f"/api/virtualservers/{real.virtual_server_id}/realservers/{real.pk}/setup/?arp=nftables"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["problem"] == ""
    assert body["serial_no"] == 5 and body["network"] == "direct" and body["arp"] == "nftables"
    assert body["hosts"] == [
        {
            "address": "192.0.2.241",
            "names": ["mysql/mysql1", "www/web1"],
            "vips": ["192.0.2.240", "192.0.2.250"],
        }
    ]
    assert body["script"].startswith("#!/bin/sh") and "Type=oneshot" in body["unit"]
    assert "'lvs_check'@'192.0.2.1'" in body["sql"] and PASSWORD_PLACEHOLDER in body["sql"]
    assert "pw-9" not in response.content.decode()


def test_the_virtual_servers_set_up_covers_its_real_servers(real):
    client = api_client(member("viewer"))
    body = client.get(f"/api/virtualservers/{real.virtual_server_id}/setup/").json()
    assert [h["address"] for h in body["hosts"]] == ["192.0.2.241", "192.0.2.242"]


def test_nothing_published_says_so_with_no_texts(real, settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "none.cf"
    client = api_client(member("viewer"))
    response = client.get(f"/api/virtualservers/{real.virtual_server_id}/setup/")
    assert response.status_code == 200
    body = response.json()
    assert "Nothing is published yet" in body["problem"]
    assert body["script"] == body["unit"] == body["sql"] == "" and body["serial_no"] is None


def test_a_real_server_only_in_the_draft_says_to_apply(real):
    draft_only = RealServer.objects.create(
        virtual_server=real.virtual_server, name="mysql9", address="192.0.2.249"
    )
    client = api_client(member("viewer"))
    url = f"/api/virtualservers/{real.virtual_server_id}/realservers/{draft_only.pk}/setup/"
    body = client.get(url).json()
    assert "no real server 'mysql/mysql9' in the published lvs.cf" in body["problem"]
    assert body["script"] == ""


def test_the_set_up_needs_a_token(real, client):
    response = client.get(f"/api/virtualservers/{real.virtual_server_id}/setup/")
    assert response.status_code in (401, 403)
