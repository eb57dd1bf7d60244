"""drf-spectacular's post-processing of the API's OpenAPI schema (SPECTACULAR_SETTINGS)."""

from __future__ import annotations

from typing import Any

from monitoring.api.serializers import CLOSED_BODIES


def closed_request_bodies(result: dict[str, Any], **_context: Any) -> dict[str, Any]:
    """The request bodies the API refuses unknown keys in (views.form_data: a PATCH or a publish
    with `serial_no` is a 400) say so: `additionalProperties: false`. Without it a client that
    follows the schema (schemathesis did) sends extra keys the schema allows and gets a 400."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED_BODIES:
        # drf-spectacular names a PATCH body's component "Patched<name>".
        for component in (name, f"Patched{name}"):
            if component in schemas:
                schemas[component]["additionalProperties"] = False
    return result
