"""The audit trail: who, when, from which address and what changed, for the GUI, the admin,
imports, Apply, restore, activations and role changes."""

import io
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from monitoring.models import AuditEntry, Revision
from monitoring.publish import audit
from monitoring.publish import revisions as publish
from realservers.models import RealServer
from tests.virtualservers.samples import VALID_SAMPLES, sample_path
from tests.virtualservers.test_views_virtual import form_data
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"


@pytest.fixture
def boss():
    user = User.objects.create_user("boss", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="administrator"))
    return user


@pytest.fixture
def client(boss):
    client = Client(REMOTE_ADDR="127.0.0.7")
    client.force_login(boss)
    return client


@pytest.fixture
def virtual():
    vs = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)
    MonitoringScript.objects.create(virtual_server=vs)
    return vs


def latest() -> AuditEntry:
    return AuditEntry.objects.first()


def test_a_gui_edit_records_who_from_where_and_the_field_changes(client, virtual):
    url = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    response = client.post(url, form_data(name="www", port="8080"))
    assert response.status_code == 302
    entry = latest()
    assert (entry.username, entry.address, entry.action) == ("boss", "127.0.0.7", "change")
    assert entry.target == "virtual server www"
    assert entry.changes["port"] == [80, 8080]


def test_a_forwarded_for_header_from_an_untrusted_peer_is_not_believed(client, virtual):
    url = reverse("virtualservers:virtual_toggle", args=[virtual.pk])
    client.post(url, HTTP_X_FORWARDED_FOR="203.0.113.66")
    entry = latest()
    assert entry.action == "activate" and entry.address == "127.0.0.7"


def test_a_trusted_proxy_forwards_the_client_address(client, virtual, settings):
    settings.LVSADMIN_TRUSTED_PROXIES = ["127.0.0.7/32"]
    settings.LVSADMIN_ALLOWED_NETWORKS = ["127.0.0.0/8", "198.51.100.0/24"]
    url = reverse("virtualservers:virtual_toggle", args=[virtual.pk])
    client.post(url, HTTP_X_FORWARDED_FOR="198.51.100.5")
    assert latest().address == "198.51.100.5"


def test_an_admin_edit_and_an_admin_activation_are_recorded(client, virtual):
    real = RealServer.objects.create(virtual_server=virtual, name="web1", address="192.0.2.1")
    changelist = reverse("admin:realservers_realserver_changelist")
    client.post(changelist, {"action": "activate", "_selected_action": [real.pk]})
    entry = latest()
    assert (entry.action, entry.target) == ("activate", "real server web1 (192.0.2.1) of www")
    client.post(
        changelist,
        {"action": "set_weight", "_selected_action": [real.pk], "apply": "1", "weight": "7"},
    )
    entry = latest()
    assert entry.action == "change" and entry.changes == {"weight": [1, 7]}
    assert entry.username == "boss"


def test_deleting_records_what_was_deleted(client, virtual):
    client.post(reverse("virtualservers:virtual_delete", args=[virtual.pk]))
    actions = list(AuditEntry.objects.values_list("action", "target"))
    assert ("delete", "virtual server www") in actions
    deleted = AuditEntry.objects.get(action="delete", target="virtual server www")
    assert deleted.changes["address"] == ["192.0.2.100", None]


def test_a_mysql_password_never_reaches_the_trail(virtual):
    script = virtual.monitoring_script
    script.mysql_password = "s3cret"
    script.save()
    entry = latest()
    assert entry.changes["mysql_password"] == ["", "(secret changed)"]
    assert "s3cret" not in str(AuditEntry.objects.values_list("changes", flat=True))


def test_an_import_leaves_one_summary_by_the_os_user_from_local():
    call_command(
        "importlvscf",
        str(sample_path(VALID_SAMPLES[0])),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    entries = list(AuditEntry.objects.all())
    assert len(entries) == 1
    entry = entries[0]
    assert entry.action == "import" and entry.address == "local"
    assert entry.username.endswith("(shell)")
    assert entry.summary.startswith(f"import of {sample_path(VALID_SAMPLES[0])} by ")
    assert "virtual servers added" in entry.summary


def test_apply_and_restore_are_recorded_and_survive_pruning_the_revision(client, virtual):
    assert client.post(reverse("monitoring:apply"), {"comment": "first"}).status_code == 302
    entry = latest()
    assert (entry.action, entry.target, entry.summary) == ("apply", "revision serial 1", "first")
    virtual.delete()
    client.post(reverse("monitoring:revision_restore", args=[1]))
    entry = latest()
    assert entry.action == "restore" and entry.username == "boss"
    assert "virtual servers added (1): www" in entry.summary
    Revision.objects.all().delete()
    assert AuditEntry.objects.filter(action__in=["apply", "restore"]).count() == 2


def test_a_restore_writes_no_row_by_row_entries(virtual, boss):
    revision = publish.publish(boss)
    VirtualServer.objects.all().delete()
    count = AuditEntry.objects.count()
    publish.restore(revision)
    assert AuditEntry.objects.count() == count + 1


def test_role_changes_are_recorded(client):
    alice = User.objects.create_user("alice")
    page = reverse("admin:auth_user_change", args=[alice.pk])
    operator = Group.objects.get(name="operator")
    data = {
        "username": "alice",
        "is_active": "on",
        "groups": [operator.pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    assert client.post(page, data).status_code == 302
    entry = AuditEntry.objects.filter(action="role").first()
    assert entry.target == "user alice"
    assert entry.changes == {"groups": ["added to", ["operator"]]}
    assert entry.username == "boss" and entry.address == "127.0.0.7"


def test_a_password_change_is_recorded_without_the_password():
    alice = User.objects.create_user("alice", password="old passphrase 1")
    alice.set_password("new passphrase 2")
    alice.save()
    entry = latest()
    assert (entry.action, entry.target, entry.changes) == ("password", "user alice", {})


def test_the_audit_page_is_readable_by_a_viewer_newest_first(virtual):
    viewer = User.objects.create_user("watcher")
    viewer.groups.add(Group.objects.get(name="viewer"))
    client = Client()
    client.force_login(viewer)
    virtual.port = 81
    virtual.save()
    virtual.port = 82
    virtual.save()
    html = client.get(reverse("monitoring:audit")).content.decode()
    assert html.index("80 → 81") > html.index("81 → 82")
    assert client.post(reverse("monitoring:audit")).status_code == 405


def test_an_add_shows_what_a_person_set_in_their_words_not_internal_or_empty_fields(client):
    VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)
    www = VirtualServer.objects.get()
    RealServer.objects.create(virtual_server=www, name="web1", address="192.0.2.1", weight=5)
    html = client.get(reverse("monitoring:audit")).content.decode()
    added = html.split("real server web1 (192.0.2.1) of www", 1)[1].split("</tr>", 1)[0]
    assert "virtual server: — → www" in added
    assert "Address: — → 192.0.2.1" in added
    assert "weight: — → 5" in added.lower()
    for internal in ("position", "has_address", "client_monitor", "virtual_server"):
        assert internal not in added
    virtual_added = html.split("virtual server www", 1)[1].split("</tr>", 1)[0]
    assert "client monitor" not in virtual_added and "position" not in virtual_added


def test_the_trail_names_a_real_servers_virtual_server_not_its_id(virtual):
    RealServer.objects.create(virtual_server=virtual, name="web1", address="192.0.2.1")
    assert latest().changes["virtual_server"] == [None, "www"]


# Entries as the trail recorded them before a foreign key was recorded by name (b0ff8b4): the
# real server's virtual server by its id, and every field of an add, internal and empty ones too.
def old_real_server_add(virtual_id: int) -> dict:
    return {
        "virtual_server": [None, virtual_id],
        "name": [None, "web1"],
        "position": [None, 0],
        "address": [None, "192.0.2.1"],
        "weight": [None, 5],
        "active": [None, False],
    }


OLD_VIRTUAL_SERVER_ADD = {
    "name": [None, "ftp"],
    "position": [None, 0],
    "address": [None, "192.0.2.21"],
    "port": [None, 80],
    "vip_nmask": [None, ""],
    "client_monitor": [None, ""],
    "has_address": [None, True],
}


def old_entry(target: str, changes: dict, action: str = "add") -> AuditEntry:
    return AuditEntry.objects.create(
        username="boss", address="127.0.0.7", action=action, target=target, changes=changes
    )


def rows_text(html: str, target: str) -> list[str]:
    """The text of each AUDIT row that names `target`, newest first (tags dropped, spaces
    folded)."""
    rows = [row.split("</tr>", 1)[0] for row in html.split(f"<td>{target}</td>")[1:]]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_an_old_entry_names_the_virtual_server_it_recorded_by_id(client, virtual):
    old_entry("real server web1 (192.0.2.1) of www", old_real_server_add(virtual.pk))
    old_entry("virtual server ftp", OLD_VIRTUAL_SERVER_ADD)
    html = client.get(reverse("monitoring:audit")).content.decode()
    [added] = rows_text(html, "real server web1 (192.0.2.1) of www")
    assert added == (
        "virtual server: — → www Name: — → web1 Address: — → 192.0.2.1 Weight: — → 5 active: — → no"
    )
    [virtual_added] = rows_text(html, "virtual server ftp")
    assert "position" not in virtual_added and "client monitor" not in virtual_added
    assert "has address" not in virtual_added.lower() and "Address: — → 192.0.2.21" in virtual_added
    # The stored entry is evidence: it keeps the id.
    stored = AuditEntry.objects.get(target__startswith="real server").changes
    assert stored == old_real_server_add(virtual.pk)


def test_an_old_entry_whose_virtual_server_is_gone_shows_its_id_as_gone(client):
    gone = VirtualServer.objects.create(name="old", address="192.0.2.50", port=80)
    gone_id = gone.pk
    gone.delete()
    old_entry("real server web1 (192.0.2.1) of old", old_real_server_add(gone_id))
    changes = {"virtual_server": [gone_id, None], "name": ["web1", None]}
    old_entry("real server web1 (192.0.2.1) of old", changes, action="delete")
    html = client.get(reverse("monitoring:audit")).content.decode()
    deleted, added = rows_text(html, "real server web1 (192.0.2.1) of old")
    assert added.startswith(f"virtual server: — → id {gone_id} (no longer exists) Name: — → web1")
    assert deleted == f"virtual server: id {gone_id} (no longer exists) → — Name: web1 → —"
    spanish = client.get(reverse("monitoring:audit"), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    assert f"id {gone_id} (ya no existe)" in spanish.content.decode()


def test_old_entries_name_their_rows_in_one_query_per_kind(virtual, django_assert_num_queries):
    entries = [
        ("real server web1 (192.0.2.1) of www", old_real_server_add(virtual.pk)),
        ("real server web2 (192.0.2.2) of www", old_real_server_add(virtual.pk + 1)),
        ("monitoring script monitoring for www", {"virtual_server": [None, virtual.pk]}),
        ("real server web3 (192.0.2.3) of www", {"virtual_server": [None, "www"]}),  # by name
    ]
    with django_assert_num_queries(1):
        names = audit.old_id_names(entries)
    assert names == {(VirtualServer, virtual.pk): "www"}


def entries_listed(client, **query) -> str:
    return client.get(reverse("monitoring:audit"), query).content.decode()


def test_audit_filters_by_user_action_and_object(client, virtual):
    other = User.objects.create_user("carol", password="x")
    other.groups.add(Group.objects.get(name="administrator"))
    carol = Client(REMOTE_ADDR="127.0.0.8")
    carol.force_login(other)
    carol.post(reverse("virtualservers:virtual_toggle", args=[virtual.pk]))
    client.post(reverse("virtualservers:virtual_edit", args=[virtual.pk]), form_data(port="81"))
    VirtualServer.objects.create(name="mail", address="192.0.2.25", port=25)

    by_carol = entries_listed(client, user="carol")
    assert "activate" in by_carol and "80 → 81" not in by_carol
    changes = entries_listed(client, action="change")
    assert "80 → 81" in changes and "192.0.2.25" not in changes
    mail = entries_listed(client, what="mail")
    assert "virtual server mail" in mail and "virtual server www" not in mail
    assert "No entry matches." in entries_listed(client, user="carol", action="delete")


def test_audit_pages_keep_the_filter(client, virtual):
    for port in range(81, 81 + 60):
        virtual.port = port
        virtual.save()
    html = entries_listed(client, action="change")
    assert "?action=change&amp;page=2" in html
