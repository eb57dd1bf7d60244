"""The OpenAPI schema: valid, complete (every API URL and method in it, nothing undocumented),
and behind the same gates as the API."""

import io
import re

import pytest
from django.core.management import call_command
from django.urls import URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

from tests.monitoring.api.api_support import ApiClient, api_client, member

pytestmark = pytest.mark.django_db


def api_routes() -> dict[str, set[str]]:
    """Each /api/ URL as the schema spells it ({name} for a parameter), with its methods."""
    (api,) = [
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and entry.namespace == "api"
    ]
    routes = {}
    for pattern in api.url_patterns:
        if pattern.name in ("schema", "schema_browser"):  # the schema itself, and its web page
            continue
        route = "/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        view = pattern.callback.cls
        routes[route] = {m for m in view.http_method_names if hasattr(view, m)} - {"options"}
    return routes


def schema() -> dict:
    response = api_client(member("viewer")).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi():
    validate_schema(schema())


def test_the_schema_lists_every_endpoint_with_its_methods():
    paths = schema()["paths"]
    routes = api_routes()
    assert len(routes) >= 12
    assert {path: set(methods) - {"head"} for path, methods in routes.items()} == {
        path: set(operations) - {"parameters"} for path, operations in paths.items()
    }


def test_the_schema_says_how_to_authenticate():
    schemes = schema()["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["type"] == "apiKey"
    assert schemes["tokenAuth"]["in"] == "header"


def test_the_schema_generates_without_a_warning(tmp_path):
    # A view drf-spectacular cannot describe (no serializer, an unknown type) warns.
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        stderr=io.StringIO(),
    )


def test_the_schema_needs_a_token():
    assert ApiClient().get("/api/schema/").status_code == 401


@pytest.mark.parametrize("path", ["/api/virtualservers/", "/api/revisions/", "/api/live/"])
def test_a_lists_invalid_page_is_a_documented_404(path):
    # schemathesis: `?page=null` got 404 "Invalid page.", which the schema did not list.
    client = api_client(member("viewer"))
    response = client.get(path, {"page": "null"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}
    document = client.get("/api/schema/", {"format": "json"}).json()
    assert "404" in document["paths"][path]["get"]["responses"]


@pytest.mark.parametrize("component", ["PublishRequest", "PatchedRealServerChange"])
def test_a_body_that_refuses_unknown_keys_says_so_in_the_schema(component):
    # schemathesis: a publish with keys the schema allowed (no additionalProperties) got a 400.
    assert schema()["components"]["schemas"][component]["additionalProperties"] is False
