"""Drain, maintenance and return through the API: the GUI's buttons' function, permission,
audit entry and refusal (a real server not published yet)."""

import pytest

from monitoring.models import AuditEntry, RealServerRuntimeState
from monitoring.publish.revisions import publish
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db


def held():
    return list(RealServerRuntimeState.objects.values_list("virtual_name", "address", "state"))


def test_an_operator_drains_puts_in_maintenance_and_returns_a_published_real_server(draft):  # noqa: F811
    publish(None, "published")
    db1 = draft["db1"]
    client = api_client(member("operator"))
    response = client.post(real_url(db1, "drain"))
    assert response.status_code == 200, response.json()
    assert response.json()["changed"] is True
    assert "draining" in response.json()["detail"]
    address = db1.address
    assert held() == [(draft["virtual"].name, address, "drain")]
    assert client.post(real_url(db1, "drain")).json()["changed"] is False
    assert client.post(real_url(db1, "maintenance")).status_code == 200
    assert held() == [(draft["virtual"].name, address, "maintenance")]
    assert client.post(real_url(db1, "return")).status_code == 200
    assert held() == []
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["drain", "maintenance", "return"]


def test_a_viewer_cannot_drain_and_nothing_is_held(draft):  # noqa: F811
    publish(None, "published")
    response = api_client(member("viewer")).post(real_url(draft["db1"], "drain"))
    assert response.status_code == 403
    assert response.json()["detail"] == "Your role does not allow this (monitoring.drain_server)."
    assert held() == []


def test_a_real_server_not_published_yet_is_refused_with_the_reason(draft):  # noqa: F811
    response = api_client(member("operator")).post(real_url(draft["db1"], "drain"))
    assert response.status_code == 400
    assert "is not in the published configuration: apply it first" in response.json()["detail"]
    assert held() == []
