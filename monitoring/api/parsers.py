"""The one JSON parser of the whole API (settings.REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): a
body is read only up to MAX_BODY_BYTES and nested at most MAX_DEPTH levels, so no request makes
the API parse 20 MB or recurse until Python's stack gives out (a 500 before this)."""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# The API's bodies are a handful of short fields (a real server's four, Apply's comment): a
# mebibyte is thousands of times that, and still cheap to read and refuse.
MAX_BODY_BYTES = 1024 * 1024
# The bodies are flat objects; a few levels leave room for any client's habits.
MAX_DEPTH = 32


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


def depth_of(value: Any) -> int:
    """How many arrays and objects are nested in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """JSONParser, with the body's size and nesting bounded."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        request = parser_context.get("request")
        too_large = BodyTooLarge(
            _("The request body is larger than %(limit)s.") % {"limit": "1 MiB"}
        )
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            if declared and int(declared) > MAX_BODY_BYTES:
                raise too_large  # refused unread
        except ValueError:
            pass  # Django reads no body for a Content-Length that is not a number
        # Whatever the header said (or without one), never read more than the bound.
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise too_large
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            # DRF's json: NaN and Infinity refused, as its own parser does (STRICT_JSON).
            data = json.loads(text) if self.strict else json.loads(text, parse_constant=None)
        except RecursionError as exc:
            raise ParseError(self.too_deep()) from exc
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
        if depth_of(data) > MAX_DEPTH:
            raise ParseError(self.too_deep())
        return data

    @staticmethod
    def too_deep() -> str:
        return _("The JSON body is nested more than %(depth)s levels deep.") % {"depth": MAX_DEPTH}
