"""GET /peer/revision: the latest published revision, for the other director only.

Neither a login cookie nor anything else opens it: only a request signed with the shared secret,
from an address in LVSADMIN_PEER_ALLOWED_NETWORKS (checked after the GUI's client allowlist,
which runs first on every path). The answer is signed too, bound to the request's nonce.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.peersync import mirror, signing
from monitoring.peersync.conf import peersync
from monitoring.peersync.follow import PEER_PATH

log = logging.getLogger("lvsadmin.peersync")
_NONCES = signing.NonceBook()


def _refuse(status: int, reason: str) -> HttpResponse:
    return HttpResponse(f"{reason}\n", status=status, content_type="text/plain; charset=utf-8")


def _peer_allowed(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for value in peersync().allowed_networks:
        network = ipaddress.ip_network(value, strict=False)
        if client.version == network.version and client in network:
            return True
    return False


@login_not_required
@never_cache
@require_GET
def peer_revision(request: HttpRequest) -> HttpResponse:
    # The address the allowlist middleware resolved (a trusted proxy's X-Forwarded-For counts).
    client = getattr(request, "client_ip", request.META.get("REMOTE_ADDR", ""))
    if not _peer_allowed(client):
        return _refuse(403, f"403 Forbidden: {client} is not a peer director.")
    try:
        secret = mirror.secret()
    except signing.SecretError as exc:
        log.error("peer request from %s refused: %s", client, exc)
        return _refuse(403, "403 Forbidden: configuration sync is not set up on this director.")
    try:
        # The query (what the standby already has) is part of what is signed.
        query = request.META.get("QUERY_STRING", "")
        path = f"{PEER_PATH}?{query}" if query else PEER_PATH
        nonce = signing.verify_request(
            secret, "GET", path, request.headers, b"", time.time(), _NONCES
        )
    except signing.SignatureError as exc:
        log.warning("peer request from %s refused: %s", client, exc)
        return _refuse(403, f"403 Forbidden: {exc}")
    body = json.dumps(mirror.latest_payload(request.GET.get("have", ""))).encode("utf-8")
    response = HttpResponse(body, content_type="application/json")
    for name, value in signing.sign_response(secret, nonce, body, time.time()).items():
        response[name] = value
    return response
