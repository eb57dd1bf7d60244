"""Client-IP allowlist: the first gate, before sessions, CSRF or login are even looked at.

The client address is REMOTE_ADDR, unless that peer is a configured trusted proxy: then
X-Forwarded-For is walked from the right, skipping trusted proxies, and the first untrusted
address is the client. Nobody else's X-Forwarded-For is believed, so a spoofed header changes
nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str], setting: str) -> list[Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting}: {value!r} is not an address or network (CIDR)"
            ) from None
    return networks


def parse_address(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def within(address: Address, networks: list[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(request: HttpRequest, trusted: list[Network]) -> Address | None:
    """The client as far as we can trust; None when it cannot be told (then: deny)."""
    peer = parse_address(request.META.get("REMOTE_ADDR", ""))
    if peer is None or not within(peer, trusted):
        return peer
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not header:
        return peer
    hops = [parse_address(part) for part in header.split(",")]
    for hop in reversed(hops):
        if hop is None:
            return None  # a malformed hop: we cannot tell who the client is
        if not within(hop, trusted):
            return hop
    return hops[0] if hops else peer


class ClientIPAllowlistMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.allowed = parse_networks(
            settings.LVSADMIN_ALLOWED_NETWORKS, "LVSADMIN_ALLOWED_NETWORKS"
        )
        self.trusted = parse_networks(settings.LVSADMIN_TRUSTED_PROXIES, "LVSADMIN_TRUSTED_PROXIES")
        # Here, not at the top: lvsadmin.metrics uses this module's address helpers.
        from lvsadmin.metrics import METRICS_PATH, refusal

        self.metrics_path, self.metrics_refusal = METRICS_PATH, refusal

    def __call__(self, request: HttpRequest) -> HttpResponse:
        client = client_address(request, self.trusted)
        if request.path_info == self.metrics_path:
            # Prometheus is not on the GUI's allowlist: /metrics has a rule of its own instead
            # (token or its own allowlist), and this one exact path is the only exception.
            denied = self.metrics_refusal(request, client)
            if denied is not None:
                return denied
            request.metrics_client = client  # type: ignore[attr-defined]
        elif client is None or not within(client, self.allowed):
            shown = str(client) if client is not None else "(unknown)"
            return HttpResponse(
                f"403 Forbidden: your address {shown} is not allowed to use lvsadmin.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        peer = parse_address(request.META.get("REMOTE_ADDR", ""))
        if peer is None or not within(peer, self.trusted):
            # Only a trusted proxy may say the client came over HTTPS (SECURE_PROXY_SSL_HEADER):
            # from anyone else the header would make Django treat plain HTTP as secure.
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        request.client_ip = str(client)  # type: ignore[attr-defined]
        return self.get_response(request)


class NoStoreForUsersMiddleware:
    """Pages shown to a logged-in user (the configuration, the live table, the admin) are never
    kept by the browser or a proxy: after logout, Back or a shared machine's cache shows nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
