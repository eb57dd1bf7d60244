"""An id the database cannot hold (>= 2^63), or a path id that is not a number, is the API's
JSON 404 like any missing object: never a 500 (SQLite's OverflowError) nor Django's HTML page."""

import pytest
from django.test import Client

from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
)

pytestmark = pytest.mark.django_db

HUGE = 2**63  # one past SQLite's and MariaDB's BIGINT


def assert_json_404(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.parametrize("bad", [str(HUGE), "9" * 40, "abc", "1.5", "-1"])
def test_a_virtual_server_id_the_database_cannot_hold_is_a_json_404(draft, bad):  # noqa: F811
    client = api_client(member("administrator"))
    for url in (
        f"/api/virtualservers/{bad}/",
        f"/api/virtualservers/{bad}/setup/",
    ):
        assert_json_404(client.get(url))
    for action in ("activate", "deactivate"):
        assert_json_404(client.post(f"/api/virtualservers/{bad}/{action}/"))


@pytest.mark.parametrize("bad", [str(HUGE), "abc"])
def test_a_real_server_under_a_huge_or_bad_id_is_a_json_404(draft, bad):  # noqa: F811
    client = api_client(member("administrator"))
    real = draft["db1"]
    for base in (
        f"/api/virtualservers/{bad}/realservers/{real.pk}/",
        f"/api/virtualservers/{real.virtual_server_id}/realservers/{bad}/",
    ):
        assert_json_404(client.get(base))
        assert_json_404(client.get(f"{base}setup/"))
        assert_json_404(client.patch(base, {"weight": 3}))
        for action in ("activate", "deactivate", "drain", "maintenance", "return"):
            assert_json_404(client.post(f"{base}{action}/"))
    real.refresh_from_db()
    assert (real.weight, real.active) == (1, False)


def test_a_revision_serial_the_database_cannot_hold_is_a_json_404(draft):  # noqa: F811
    client = api_client(member("viewer"))
    assert_json_404(client.get(f"/api/revisions/{HUGE}/"))
    assert_json_404(client.get("/api/revisions/abc/"))


def test_the_largest_id_the_database_holds_is_a_plain_missing_object(draft):  # noqa: F811
    client = api_client(member("administrator"))
    assert_json_404(client.get(f"/api/virtualservers/{HUGE - 1}/"))
    assert_json_404(client.get(f"/api/virtualservers/{HUGE - 1}/realservers/{HUGE - 1}/"))


def test_a_missing_page_outside_the_api_keeps_djangos_own_404_page():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
