"""A change through the API is recorded as the same change through the GUI: the same action,
target and field changes, with the token's user and the client's address."""

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import AuditEntry
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db
ADDRESS = "127.0.0.7"


def gui_as(user) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)
    return client


def entry() -> tuple:
    last = AuditEntry.objects.first()
    return (last.username, last.address, last.action, last.target, last.changes, last.summary)


def test_activating_a_real_server_is_recorded_as_the_gui_records_it(draft):  # noqa: F811
    user = member("operator", "alice")
    db1 = draft["db1"]
    gui_as(user).post(reverse("realservers:real_toggle", args=[db1.virtual_server_id, db1.pk]))
    by_gui = entry()
    gui_as(user).post(reverse("realservers:real_toggle", args=[db1.virtual_server_id, db1.pk]))
    api_client(user, REMOTE_ADDR=ADDRESS).post(real_url(db1, "activate"))
    assert entry() == by_gui
    assert by_gui == (
        "alice",
        ADDRESS,
        "activate",
        "real server db1 (192.0.2.241) of mysql",
        {"active": [False, True]},
        "",
    )


def test_deactivating_a_virtual_server_is_recorded_as_the_gui_records_it(draft):  # noqa: F811
    user = member("operator", "alice")
    vs = draft["virtual"]
    vs.active = True
    vs.save()
    gui_as(user).post(reverse("virtualservers:virtual_toggle", args=[vs.pk]))
    by_gui = entry()
    gui_as(user).post(reverse("virtualservers:virtual_toggle", args=[vs.pk]))
    api_client(user, REMOTE_ADDR=ADDRESS).post(f"/api/virtualservers/{vs.pk}/deactivate/")
    assert entry() == by_gui
    assert by_gui[2:4] == ("deactivate", "virtual server mysql")


def test_a_repeated_action_records_nothing(draft):  # noqa: F811
    client = api_client(member("operator"))
    before = AuditEntry.objects.count()
    response = client.post(real_url(draft["db1"], "deactivate"))
    assert response.json()["changed"] is False
    assert AuditEntry.objects.count() == before


def test_a_weight_change_is_recorded_as_the_gui_edit_records_it(draft):  # noqa: F811
    user = member("administrator", "boss")
    db1 = draft["db1"]
    url = reverse("realservers:real_edit", args=[db1.virtual_server_id, db1.pk])
    gui_as(user).post(url, {"name": "db1", "address": db1.address, "port": "", "weight": "7"})
    by_gui = entry()
    gui_as(user).post(url, {"name": "db1", "address": db1.address, "port": "", "weight": "1"})
    api_client(user, REMOTE_ADDR=ADDRESS).patch(real_url(db1), {"weight": 7})
    assert entry() == by_gui
    assert by_gui[2:5] == ("change", "real server db1 (192.0.2.241) of mysql", {"weight": [1, 7]})


def test_publishing_is_recorded_with_the_serial_and_comment(draft):  # noqa: F811
    api_client(member("operator", "alice"), REMOTE_ADDR=ADDRESS).post(
        "/api/publish/", {"comment": "db2 weight"}
    )
    assert entry() == ("alice", ADDRESS, "apply", "revision serial 1", {}, "db2 weight")


def test_a_refused_change_records_nothing(draft):  # noqa: F811
    viewer, admin = api_client(member("viewer")), api_client(member("administrator"))
    before = AuditEntry.objects.count()
    assert viewer.post(real_url(draft["db1"], "activate")).status_code == 403
    assert admin.patch(real_url(draft["db1"]), {"weight": -1}).status_code == 400
    assert AuditEntry.objects.count() == before
