"""/api/ answers with an index of the endpoints (it answered 404), and the schema can be browsed
in Swagger UI served from our own static files, behind the login and the allowlist."""

import pytest
from django.test import Client

from tests.monitoring.api.api_support import api_client, member

pytestmark = pytest.mark.django_db
BROWSER = "/api/schema/browse/"


def test_the_index_lists_every_endpoint_the_schema_and_its_browser():
    response = api_client(member("viewer")).get("/api/")
    assert response.status_code == 200
    body = response.json()
    assert body["endpoints"]["draft"] == "/api/draft/"
    assert body["endpoints"]["real_drain"] == (
        "/api/virtualservers/{virtual_pk}/realservers/{pk}/drain/"
    )
    assert body["schema"] == "/api/schema/"
    assert body["schema_browser"] == BROWSER


def test_every_path_the_index_lists_is_one_the_schema_documents():
    client = api_client(member("viewer"))
    documented = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    listed = client.get("/api/").json()["endpoints"]
    assert {
        path for name, path in listed.items() if name not in ("index", "schema", "schema_browser")
    } <= set(documented)


def test_the_index_needs_a_token_or_a_session_and_only_reads():
    assert Client().get("/api/").status_code == 401
    client = api_client(member("administrator"))
    assert client.post("/api/", {}).status_code == 405


def test_the_index_is_behind_the_allowlist():
    response = api_client(member("viewer"), REMOTE_ADDR="192.0.2.99").get("/api/")
    assert response.status_code == 403


def logged_in(name: str = "viewer") -> Client:
    client = Client()
    client.force_login(member("viewer", name))
    return client


def test_the_schema_browser_loads_swagger_ui_from_our_static_files():
    page = logged_in().get(BROWSER).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "https://" not in page and "http://" not in page
    assert "<style" not in page and "<script>" not in page  # nothing inline: the CSP refuses it
    script = logged_in("another").get(BROWSER + "?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert '"/api/schema/"' in script.content.decode()
    assert '"validatorUrl": null' in script.content.decode()  # no badge from swagger.io


def test_the_schema_browser_needs_a_session_or_a_token_as_the_api_does():
    assert Client().get(BROWSER).status_code == 401
    assert Client().get(BROWSER + "?script=").status_code == 401


def test_the_schema_browser_is_behind_the_allowlist():
    client = Client(REMOTE_ADDR="192.0.2.99")
    client.force_login(member("viewer"))
    assert client.get(BROWSER).status_code == 403
    assert logged_in("another").post(BROWSER).status_code == 405
