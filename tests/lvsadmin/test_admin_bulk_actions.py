"""The admin's bulk actions at scale: one UPDATE and one audit entry for the whole selection,
whatever its size, and the entry names every row it changed (AUDIT folds the list)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.models import AuditEntry
from realservers.models import RealServer
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/realservers/realserver/"


def real_servers(count: int) -> list[RealServer]:
    www = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)
    return RealServer.objects.bulk_create(
        RealServer(
            virtual_server=www, name=f"rs{n:03d}", address="192.0.2.1", port=8000 + n, active=True
        )
        for n in range(count)
    )


def deactivate_all(client) -> CaptureQueriesContext:
    ids = list(RealServer.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        response = client.post(CHANGELIST, {"action": "deactivate", "_selected_action": ids})
    assert response.status_code == 302
    return queries


def updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


@pytest.mark.parametrize("count", [3, 60])
def test_deactivating_a_selection_is_one_update_and_one_audit_entry(admin_client_, count):
    real_servers(count)
    before = AuditEntry.objects.count()
    queries = deactivate_all(admin_client_)
    assert RealServer.objects.filter(active=True).count() == 0
    assert len(updates(queries)) == 1
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.first()
    assert (entry.action, entry.target) == ("deactivate", f"{count} real servers")
    assert entry.changes["active"] == [True, False]
    assert entry.changes["changed rows"] == [f"www/rs{n:03d}" for n in range(count)]


def test_the_number_of_queries_does_not_grow_with_the_selection(admin_client_):
    real_servers(3)
    few = len(deactivate_all(admin_client_))
    RealServer.objects.all().delete()
    VirtualServer.objects.all().delete()
    real_servers(60)
    assert len(deactivate_all(admin_client_)) == few


def test_rows_already_in_that_state_are_neither_written_nor_listed(admin_client_):
    servers = real_servers(4)
    RealServer.objects.filter(pk=servers[0].pk).update(active=False)
    deactivate_all(admin_client_)
    entry = AuditEntry.objects.first()
    assert entry.target == "3 real servers"
    assert "www/rs000" not in entry.changes["changed rows"]


def test_a_bulk_weight_change_is_one_entry_naming_the_rows(admin_client_):
    servers = real_servers(5)
    before = AuditEntry.objects.count()
    admin_client_.post(
        CHANGELIST,
        {
            "action": "set_weight",
            "_selected_action": [s.pk for s in servers],
            "apply": "1",
            "weight": "9",
        },
    )
    assert set(RealServer.objects.values_list("weight", flat=True)) == {9}
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.first()
    assert (entry.action, entry.target) == ("change", "5 real servers")
    assert entry.changes["weight"] == [None, 9]


def test_audit_shows_the_first_names_and_folds_the_rest_with_a_count(admin_client_):
    real_servers(60)
    deactivate_all(admin_client_)
    html = admin_client_.get(reverse("monitoring:audit")).content.decode()
    assert "60 real servers" in html
    assert "www/rs000, www/rs001" in html
    assert "<summary>and 40 more</summary>" in html
    assert "www/rs059" in html.split("<summary>and 40 more</summary>", 1)[1]


def test_virtual_servers_are_deactivated_in_bulk_by_name(admin_client_):
    for n in range(3):
        VirtualServer.objects.create(
            name=f"vs{n}", address=f"192.0.2.{n + 1}", port=80, active=True
        )
    admin_client_.post(
        "/admin/virtualservers/virtualserver/",
        {
            "action": "deactivate",
            "_selected_action": list(VirtualServer.objects.values_list("pk", flat=True)),
        },
    )
    entry = AuditEntry.objects.first()
    assert (entry.action, entry.target) == ("deactivate", "3 virtual servers")
    assert entry.changes["changed rows"] == ["vs0", "vs1", "vs2"]
