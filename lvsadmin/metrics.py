"""/metrics for Prometheus, behind a rule of its own instead of the GUI's allowlist and login.

A scraper is a program, not a person: it gets no session, and the login cookie never opens
/metrics (a browser tab of a logged-in administrator cannot be made to scrape it either). The
rule is a bearer token (LVSADMIN_METRICS_TOKEN, or LVSADMIN_METRICS_TOKEN_FILE naming a file
owned by root and writable by nobody else), a client allowlist (LVSADMIN_METRICS_ALLOWED_IPS,
CIDRs), or both; when both are set, a scrape must pass both.

Without either, /metrics answers 404 to everyone: the endpoint does not exist until root enables
it, so nothing is exposed by default and a scraper pointed at a director where it was never
turned on is told plainly that there is nothing there (a 403 would suggest a wrong token).
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from lvsadmin.middleware import Address, parse_networks, within
from monitoring.metrics.exposition import exposition
from monitoring.worker.conf import worker

log = logging.getLogger("lvsadmin.metrics")
METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


def read_token_file(path: Path) -> str:
    """The token in the file's first line; "" when the file is unreadable, not owned by root, or
    writable by group or others (then anyone who could write it could choose the token)."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                log.error("%s: must be owned by root and writable by nobody else", path)
                return ""
            first = handle.read(4096).decode("utf-8", "replace").splitlines()
    except OSError as exc:
        log.error("cannot read the metrics token from %s: %s", path, exc)
        return ""
    return first[0].strip() if first else ""


def expected_token() -> str | None:
    """The token a scrape must present; None when no token is configured, "" when one is
    configured but unusable (then every scrape is refused)."""
    if settings.LVSADMIN_METRICS_TOKEN:
        return settings.LVSADMIN_METRICS_TOKEN
    if settings.LVSADMIN_METRICS_TOKEN_FILE:
        return read_token_file(Path(settings.LVSADMIN_METRICS_TOKEN_FILE))
    return None


def presented_token(request: HttpRequest) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def refusal(request: HttpRequest, client: Address | None) -> HttpResponse | None:
    """Why this request may not scrape (the response to send), or None when it may."""
    networks = parse_networks(settings.LVSADMIN_METRICS_ALLOWED_IPS, "LVSADMIN_METRICS_ALLOWED_IPS")
    token = expected_token()
    if token is None and not networks:
        return _plain(404, "404 Not Found: /metrics is not enabled on this director.")
    if request.method != "GET":
        response = _plain(405, "405 Method Not Allowed: /metrics answers GET only.")
        response["Allow"] = "GET"
        return response
    if networks and (client is None or not within(client, networks)):
        shown = str(client) if client is not None else "(unknown)"
        return _plain(403, f"403 Forbidden: {shown} may not scrape /metrics.")
    if token is not None:
        offered = presented_token(request)
        # Constant time: the comparison must not tell how much of a guess was right.
        if not token or not hmac.compare_digest(offered.encode(), token.encode()):
            return _plain(403, "403 Forbidden: a valid bearer token is needed for /metrics.")
    return None


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The scrape. The allowlist middleware already applied refusal(); it is applied again here
    so that the view is never reachable without its own rule, whatever the middleware does."""
    denied = refusal(request, getattr(request, "metrics_client", None))
    if denied is not None:
        return denied
    body = exposition(worker().apply_state)
    return HttpResponse(body, content_type=CONTENT_TYPE)
