"""The API's roles are the GUI's: every account reads; an operator (de)activates and publishes;
only an administrator changes a real server; a refusal is the GUI's 403 with its message."""

import pytest

from monitoring.models import Revision
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db


def reads(draft):  # noqa: F811
    vs, db1 = draft["virtual"], draft["db1"]
    return [
        "/api/draft/",
        "/api/virtualservers/",
        f"/api/virtualservers/{vs.pk}/",
        real_url(db1),
        "/api/revisions/",
        "/api/live/",
        "/api/token/",
        "/api/schema/",
    ]


def changes(draft):  # noqa: F811
    vs, db1 = draft["virtual"], draft["db1"]
    return [
        ("post", real_url(db1, "activate"), None),
        ("post", real_url(db1, "deactivate"), None),
        ("post", f"/api/virtualservers/{vs.pk}/activate/", None),
        ("post", f"/api/virtualservers/{vs.pk}/deactivate/", None),
        ("post", "/api/publish/", {"comment": "x"}),
        ("patch", real_url(db1), {"weight": 5}),
    ]


def state():
    return (
        list(VirtualServer.objects.values_list("active", flat=True)),
        list(VirtualServer.objects.values_list("real_servers__active", "real_servers__weight")),
        Revision.objects.count(),
    )


@pytest.mark.parametrize("role", [None, "viewer", "operator", "administrator"])
def test_every_role_reads_everything(draft, role):  # noqa: F811
    client = api_client(member(role))
    for url in reads(draft):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [None, "viewer"])
def test_a_viewer_changes_nothing_and_is_told_why_as_in_the_gui(draft, role):  # noqa: F811
    client = api_client(member(role))
    before = state()
    for method, url, data in changes(draft):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, url
        assert response.json()["detail"].startswith("Your role does not allow this (")
    assert state() == before


def test_the_refusal_names_the_permission_the_gui_names(draft):  # noqa: F811
    client = api_client(member("viewer"))
    response = client.post(real_url(draft["db1"], "activate"))
    assert response.json() == {
        "detail": "Your role does not allow this (virtualservers.toggle_server)."
    }


def test_an_operator_activates_and_publishes_but_does_not_edit(draft):  # noqa: F811
    client = api_client(member("operator"))
    db1 = draft["db1"]
    response = client.post(real_url(db1, "activate"))
    assert response.status_code == 200
    assert response.json()["detail"] == "Real server db1 activated."
    response = client.post(f"/api/virtualservers/{draft['virtual'].pk}/deactivate/")
    assert response.status_code == 200 and response.json()["changed"] is False
    assert client.post("/api/publish/", {"comment": "db1 in"}).status_code == 201
    response = client.patch(real_url(db1), {"weight": 5})
    assert response.status_code == 403
    assert (
        response.json()["detail"] == "Your role does not allow this (virtualservers.change_draft)."
    )
    db1.refresh_from_db()
    assert (db1.active, db1.weight) == (True, 1)


def test_an_administrator_changes_a_weight(draft):  # noqa: F811
    client = api_client(member("administrator"))
    response = client.patch(real_url(draft["db1"]), {"weight": 5})
    assert response.status_code == 200
    assert response.json()["weight"] == 5
    draft["db1"].refresh_from_db()
    assert draft["db1"].weight == 5
