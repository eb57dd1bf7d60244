"""Configuration sync's settings, read once: the peer's URL, the shared secret's file, the poll
interval, and the networks allowed to fetch this director's revisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from virtualservers.conf import resolved_once


@dataclass(frozen=True)
class PeerSyncSettings:
    peer_url: str  # LVSADMIN_PEER_URL, without a trailing slash ("": the role file's peer)
    secret_file: Path  # LVSADMIN_PEER_SECRET_FILE
    poll_seconds: float  # LVSADMIN_PEER_POLL_SECONDS
    allowed_networks: tuple[str, ...]  # LVSADMIN_PEER_ALLOWED_NETWORKS
    follow_peer: bool = False  # LVSADMIN_FOLLOW_PEER: a director without a VRRP role follows


@resolved_once
def peersync() -> PeerSyncSettings:
    return PeerSyncSettings(
        peer_url=settings.LVSADMIN_PEER_URL.rstrip("/"),
        secret_file=Path(settings.LVSADMIN_PEER_SECRET_FILE),
        poll_seconds=settings.LVSADMIN_PEER_POLL_SECONDS,
        allowed_networks=tuple(settings.LVSADMIN_PEER_ALLOWED_NETWORKS),
        follow_peer=settings.LVSADMIN_FOLLOW_PEER,
    )
