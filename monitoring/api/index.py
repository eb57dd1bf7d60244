"""/api/ itself: the index of the endpoints (JSON), and the schema browser (Swagger UI, its files
vendored by drf-spectacular-sidecar and served from our static files, under our CSP)."""

from __future__ import annotations

import re

from django.urls import URLPattern, reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring.api.views import REFUSED, ApiView

# "<id:pk>" in a route becomes "{pk}", as the schema spells its paths.
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def endpoint_paths(patterns: list[URLPattern], prefix: str) -> dict[str, str]:
    """{url name: path template} of every named pattern, in the URLconf's order."""
    return {
        p.name: prefix + _PARAMETER.sub(r"{\1}", str(p.pattern))
        for p in patterns
        if isinstance(p, URLPattern) and p.name
    }


class IndexSerializer(serializers.Serializer):
    endpoints = serializers.DictField(
        child=serializers.CharField(),
        help_text="Each endpoint's path by name; {pk} and {virtual_pk} stand for ids.",
    )
    schema = serializers.CharField(help_text="The OpenAPI schema.")
    schema_browser = serializers.CharField(help_text="The schema in Swagger UI (a web page).")


class IndexView(ApiView):
    @extend_schema(
        summary="Every endpoint by name, the schema, and the page that browses it.",
        responses={200: IndexSerializer, **REFUSED},
    )
    def get(self, request: Request) -> Response:
        from monitoring.api import urls  # the URLconf that routes to this view: imported late

        return Response(
            {
                "endpoints": endpoint_paths(urls.urlpatterns, reverse("api:index")),
                "schema": reverse("api:schema"),
                "schema_browser": reverse("api:schema_browser"),
            }
        )


class SchemaBrowser(SpectacularSwaggerSplitView):
    """Swagger UI on the schema. The split view loads its start-up script from a URL of its own,
    not inline, and this page's template has no inline style: the CSP (script-src and style-src
    'self') refuses both."""

    template_name = "monitoring/api_schema_browser.html"
