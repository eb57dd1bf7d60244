"""The client-IP allowlist is the API's first gate too: a valid token from an address outside it
gets the plain 403 every page gives, on every method, and no data."""

import pytest
from django.test import override_settings

from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_valid_token_from_outside_the_allowlist_gets_403_and_no_data(draft, method):  # noqa: F811
    client = api_client(member("administrator"), REMOTE_ADDR="192.0.2.99")
    for url in ["/api/draft/", real_url(draft["db1"]), real_url(draft["db1"], "activate")]:
        response = getattr(client, method)(url, {"weight": 9})
        assert response.status_code == 403
        assert response["Content-Type"].startswith("text/plain")
        assert b"192.0.2.99 is not allowed" in response.content
        assert b"mysql" not in response.content
    draft["db1"].refresh_from_db()
    assert (draft["db1"].active, draft["db1"].weight) == (False, 1)


@override_settings(LVSADMIN_ALLOWED_NETWORKS=["203.0.113.0/24"])
def test_an_allowed_network_reaches_the_api_with_a_token(draft):  # noqa: F811
    client = api_client(member("viewer"), REMOTE_ADDR="203.0.113.5")
    assert client.get("/api/draft/").status_code == 200
    assert (
        api_client(member("operator"), REMOTE_ADDR="127.0.0.1").get("/api/draft/").status_code
        == 403
    )


@override_settings(
    LVSADMIN_TRUSTED_PROXIES=["198.51.100.1/32"], LVSADMIN_ALLOWED_NETWORKS=["203.0.113.0/24"]
)
def test_a_spoofed_forwarded_for_does_not_let_a_token_in(draft):  # noqa: F811
    client = api_client(member("viewer"), REMOTE_ADDR="192.0.2.99")
    assert client.get("/api/draft/", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 403
