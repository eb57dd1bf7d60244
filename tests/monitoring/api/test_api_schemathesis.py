"""schemathesis, a third-party client, against /api/ through its own OpenAPI schema: every
operation with generated (valid and invalid) input, every check schemathesis has (no server
error, status codes, content types, headers and bodies as the schema documents them, refused
input refused). Bounded in examples so that it fits a loaded CI machine; the issue's full run
was 1,427 requests."""

from __future__ import annotations

import json
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer as JSONRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.schemas import BaseSchema

from tests.monitoring.api.api_support import draft, member  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

# Generated cases per operation (about 30 operations): enough to reach every documented answer
# (200, 400, 401, 403, 404, 409, 413) of each, a few minutes on a busy 2-core machine.
EXAMPLES = 15


def from_loopback(app: WSGIApplication) -> WSGIApplication:
    """`app` as a client on loopback reaches it: werkzeug's test client sends no REMOTE_ADDR,
    which the allowlist refuses (403) as an address it cannot tell."""

    def call(environ: WSGIEnvironment, start_response: StartResponse):
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")
        return app(environ, start_response)

    return call


@pytest.fixture
def kept_connection():
    """The test's database connection kept open across requests, as Django's test Client keeps
    it: the WSGI handler closes it at each request's end, and the test's transaction with it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(draft, settings, kept_connection) -> str:  # noqa: F811 (the draft fixture, imported above)
    # The WSGI client schemathesis uses speaks to host "localhost".
    settings.ALLOWED_HOSTS = ["localhost"]
    return Token.objects.create(user=member("administrator")).key


def api_schema() -> BaseSchema:
    """The schema /api/schema/ serves, read at collection (it needs no database), calling the
    application through WSGI."""
    document = SchemaGenerator(api_version=None).get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(JSONRenderer().render(document)))
    loaded.app = from_loopback(get_wsgi_application())
    return loaded


schema = api_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_its_schema_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"})
