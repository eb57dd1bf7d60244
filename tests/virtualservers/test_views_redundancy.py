"""REDUNDANCY page: ENABLE / DISABLE / RESET and the heartbeat fields."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from monitoring.publish import draft
from monitoring.publish import revisions as publish
from virtualservers.models import GlobalSettings, Redundancy

pytestmark = pytest.mark.django_db
URL = reverse("virtualservers:redundancy")


def fields(**changes):
    data = {
        "backup": "192.0.2.11",
        "keepalive": "6",
        "deadtime": "18",
        "heartbeat_port": "539",
        "syncd_iface": "",
        "syncd_id": "",
    }
    data.update(changes)
    return data


def test_it_shows_an_inactive_backup_with_only_enable(admin_client):
    html = admin_client.get(URL).content.decode()
    assert "<title>lvsadmin (Redundancy)</title>" in html
    assert "Backup: " in html and "inactive" in html
    assert ">ENABLE</button>" in html
    assert "Redundant server public IP" not in html
    assert ">DISABLE</button>" not in html


def test_it_enables_the_backup_and_shows_piranhas_defaults(admin_client):
    Redundancy.objects.create(pk=1, keepalive=None, deadtime=None, heartbeat_port=None)
    response = admin_client.post(reverse("virtualservers:redundancy_enable"))
    assert response.status_code == 302
    assert Redundancy.load().backup_active is True
    form = admin_client.get(URL).context["form"]
    shown = {name: form[name].value() for name in ("keepalive", "deadtime", "heartbeat_port")}
    assert shown == {"keepalive": 6, "deadtime": 18, "heartbeat_port": 539}
    html = admin_client.get(URL).content.decode()
    for label in [
        ">active<",
        "Redundant server public IP",
        "Heartbeat interval (seconds)",
        "Assume dead after (seconds)",
        "Heartbeat runs on port",
        "Monitor NIC links for failures",
        "Use sync daemon",
        "Sync daemon interface",
        "Sync daemon ID",
        ">ACCEPT</button>",
        ">DISABLE</button>",
        ">RESET</button>",
    ]:
        assert label in html, label


def test_enable_then_disable_leaves_no_pending_diff(admin_client, settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    Redundancy.objects.create(pk=1, keepalive=None, deadtime=None, heartbeat_port=None)
    publish.publish(User.objects.get(username="admin"))
    admin_client.post(reverse("virtualservers:redundancy_enable"))
    assert "+backup_active = 1" in publish.pending_diff()
    admin_client.post(reverse("virtualservers:redundancy_disable"))
    assert publish.pending_diff() == ""


def test_the_private_ip_has_a_field_even_without_the_primarys(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    assert "Redundant server private IP" in admin_client.get(URL).content.decode()


def test_a_private_ip_without_the_primarys_is_refused_on_its_field(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    response = admin_client.post(URL, fields(backup_private="198.51.100.11"))
    assert response.status_code == 200
    assert "The primary has no private IP" in response.context["form"].errors["backup_private"][0]
    assert Redundancy.load().backup_private == ""


def test_the_private_ip_is_written_to_lvs_cf_and_read_back(admin_client, settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    GlobalSettings.objects.update_or_create(pk=1, defaults={"primary_private": "198.51.100.10"})
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    response = admin_client.post(URL, fields(backup_private="198.51.100.11"))
    assert response.status_code == 302
    text = publish.draft_text()
    assert "backup_private = 198.51.100.11\n" in text
    assert publish.parse_text(text).backup_private == "198.51.100.11"
    publish.publish(User.objects.get(username="admin"))
    draft.replace_draft(publish.parse_text(text))
    assert Redundancy.load().backup_private == "198.51.100.11"
    assert publish.pending_diff() == ""


def test_the_private_ip_may_not_be_the_primarys(admin_client):
    GlobalSettings.objects.update_or_create(pk=1, defaults={"primary_private": "198.51.100.10"})
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    response = admin_client.post(URL, fields(backup_private="198.51.100.10"))
    assert "the primary's own" in response.context["form"].errors["backup_private"][0]


def test_it_accepts_the_fields_and_forces_heartbeat_on(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="0.0.0.0")
    response = admin_client.post(URL, fields(keepalive="2", deadtime="10", syncdaemon="on"))
    assert response.status_code == 302
    row = Redundancy.load()
    assert (row.backup, row.keepalive, row.deadtime, row.heartbeat) == ("192.0.2.11", 2, 10, True)
    assert (row.syncdaemon, row.syncd_iface, row.syncd_id) == (True, "eth0", 0)


def test_it_shows_errors_on_the_fields_and_changes_nothing(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    response = admin_client.post(URL, fields(backup="300.1.1.1", heartbeat_port="70000"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"backup", "heartbeat_port"}
    assert Redundancy.load().backup == "192.0.2.11"


def test_it_disables_the_backup(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    admin_client.post(reverse("virtualservers:redundancy_disable"))
    assert Redundancy.load().backup_active is False
    assert Redundancy.load().backup == "192.0.2.11"


def test_it_resets_like_piranha(admin_client):
    Redundancy.objects.create(
        pk=1,
        backup_active=True,
        backup="192.0.2.11",
        backup_private="10.1.1.11",
        keepalive=1,
        deadtime=3,
        heartbeat_port=600,
    )
    admin_client.post(reverse("virtualservers:redundancy_reset"))
    row = Redundancy.load()
    assert (row.backup, row.backup_private, row.keepalive, row.deadtime, row.heartbeat_port) == (
        "0.0.0.0",
        "",
        6,
        18,
        539,
    )
    assert row.backup_active is True


def test_it_ignores_field_posts_while_the_backup_is_inactive(admin_client):
    admin_client.post(URL, fields())
    assert Redundancy.load().backup == ""


@pytest.mark.parametrize(
    "name",
    [
        "virtualservers:redundancy_enable",
        "virtualservers:redundancy_disable",
        "virtualservers:redundancy_reset",
    ],
)
def test_it_never_changes_anything_on_get(admin_client, name):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11", keepalive=2)
    response = admin_client.get(reverse(name))
    assert response.status_code == 405
    row = Redundancy.load()
    assert (row.backup_active, row.backup, row.keepalive) == (True, "192.0.2.11", 2)


def test_it_requires_a_login(client):
    response = client.post(reverse("virtualservers:redundancy_enable"))
    assert response.status_code == 302
    assert not Redundancy.objects.filter(backup_active=True).exists()


def test_the_heartbeat_port_says_that_vrrp_does_not_use_it(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    html = admin_client.get(URL).content.decode()
    hint = html.split('id="id_heartbeat_port"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "Nothing in lvsadmin acts on this" in hint
    assert "VRRP" in hint


def test_a_heartbeat_interval_kept_by_an_import_shows_the_warning_on_its_field(admin_client):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11", keepalive=0)
    html = admin_client.get(URL).content.decode()
    hint = html.split('id="id_keepalive"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "keepalive 0 is outside" in hint


# --- two directors: the peer and the interfaces -------------------------------------------------


@pytest.fixture
def interfaces(monkeypatch):
    """This director's interfaces, as /sys/class/net would list them."""
    names = {"lo", "eth0", "eth1"}
    monkeypatch.setattr("virtualservers.forms.local_interfaces", lambda: names)
    return names


def enabled():
    row = Redundancy.load()
    row.backup_active = True
    row.save()
    settings = GlobalSettings.load()
    settings.primary = "192.0.2.1"
    settings.save()


def test_the_peer_must_not_be_the_primary_itself(admin_client, interfaces):
    enabled()
    response = admin_client.post(URL, fields(backup="192.0.2.1"))
    assert response.status_code == 200
    assert "The redundant server is the primary itself (192.0.2.1)" in response.content.decode()
    assert Redundancy.load().backup != "192.0.2.1"


def test_the_sync_daemon_interface_must_exist_on_this_director(admin_client, interfaces):
    enabled()
    response = admin_client.post(URL, fields(syncdaemon="on", syncd_iface="eth7", syncd_id="3"))
    assert "This director has no interface eth7." in response.content.decode()
    assert not Redundancy.load().syncdaemon
    admin_client.post(URL, fields(syncdaemon="on", syncd_iface="eth1", syncd_id="3"))
    assert (Redundancy.load().syncdaemon, Redundancy.load().syncd_iface) == (True, "eth1")


def test_heartbeat_port_says_it_has_no_meaning_under_vrrp(admin_client, interfaces):
    enabled()
    html = admin_client.get(URL).content.decode()
    hint = html.split('id="id_heartbeat_port"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "No meaning under VRRP" in hint
