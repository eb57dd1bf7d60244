"""{% peer_sync %}: how this director follows its peer, for CONTROL/MONITORING."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from monitoring.models import PeerFollowStatus
from monitoring.peersync import mirror

register = template.Library()
# The worker rewrites the row every 2 s at least: older means nobody is following.
STALE = timedelta(seconds=10)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return _("never")
    return _("%(seconds)d s ago") % {"seconds": max(0, int((now - when).total_seconds()))}


def follow_lines(
    status: PeerFollowStatus | None, role: str, now: datetime
) -> list[tuple[str, str]]:
    """(css, sentence) lines: what the standby follows, or why it does not."""
    if role == "active":
        return [("text-muted", _("This director is active: the standby follows its revisions."))]
    if role != "standby":
        return []
    if status is None or status.updated_at is None or now - status.updated_at > STALE:
        return [("text-danger", _("Not following the peer: the worker is not running."))]
    if status.state == "off":
        return [("text-danger", status.reason)]
    lines = []
    if status.state == "following":
        lines.append(
            (
                "text-success",
                _("following %(peer)s: revision %(serial)s, last contact %(ago)s")
                % {
                    "peer": status.peer,
                    "serial": status.local_serial if status.local_serial is not None else "-",
                    "ago": _ago(status.last_contact, now),
                },
            )
        )
    elif status.state == "starting":
        lines.append(("text-muted", _("contacting %(peer)s") % {"peer": status.peer}))
    else:
        lines.append(
            (
                "text-danger",
                _(
                    "cannot reach %(peer)s since %(since)s (%(reason)s); keeping revision "
                    "%(serial)s, last contact %(ago)s"
                )
                % {
                    "peer": status.peer,
                    "since": timezone.localtime(status.failing_since).strftime("%Y-%m-%d %H:%M:%S")
                    if status.failing_since
                    else "-",
                    "reason": status.reason,
                    "serial": status.local_serial if status.local_serial is not None else "-",
                    "ago": _ago(status.last_contact, now),
                },
            )
        )
    if status.matches is True:
        lines.append(("text-success", _("peer configuration matches")))
    elif status.matches is False:
        lines.append(
            (
                "text-warning",
                _("peer configuration differs (peer serial %(peer)s, here %(here)s)")
                % {"peer": status.peer_serial, "here": status.local_serial},
            )
        )
    return lines


@register.inclusion_tag("monitoring/_peersync.html")
def peer_sync() -> dict[str, Any]:
    role = mirror.role().role
    status = PeerFollowStatus.objects.filter(pk=1).first() if role == "standby" else None
    return {"lines": follow_lines(status, role, timezone.now())}
