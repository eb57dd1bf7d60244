"""CONTROL/MONITORING's BGP panel (the mode, each session with its state and uptime, which VIPs
this director announces and why any is withdrawn, its connections on them) and the operator's
"Take this director out of service" and back.

What the worker found comes from its redundancy state file (the "bgp" part, written by
monitoring.bgp.director through redundancy.worker_step); the connections from the live table the
worker writes (summed by the database, not read whole). The web process needs no root and never talks to BIRD.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from monitoring.bgp import service
from monitoring.bgp.conf import service_file
from monitoring.live.worker_table import connections_by_vip
from monitoring.publish import audit
from monitoring.publish.revisions import PUBLISH_REVISION
from monitoring.redundancy.views import worker_state
from virtualservers.i18n import Wording
from virtualservers.tabs import render_tab, requires

# Why a VIP is withdrawn, as the worker's step records it (monitoring.bgp.announce), and what
# the step reports when it cannot work (monitoring.bgp.bird's BgpError: passed on as recorded).
BGP_WORDS = Wording(
    [
        gettext_noop("the worker has not loaded the IPVS table"),
        gettext_noop("the worker stopped"),
        gettext_noop("no real server (nor sorry server) of its virtual servers is up"),
        gettext_noop("this director was taken out of service by an operator"),
    ],
    [],
)


def bgp_state() -> dict[str, Any] | None:
    """The BGP part of the worker's state file (None: not in BGP mode)."""
    data = worker_state().get("bgp")
    return data if isinstance(data, dict) and data.get("enabled") else None


def bgp_context() -> dict[str, Any]:
    """What the BGP panel shows ({"bgp": None} outside the mode)."""
    state = bgp_state()
    if state is None:
        return {"bgp": None}
    now = datetime.now(UTC)
    sessions = []
    for session in state.get("sessions", []):
        stamp = session.get("since_timestamp")
        since = datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int | float) else None
        sessions.append(
            {
                **session,
                "since_time": since,
                "uptime": int((now - since).total_seconds()) if since else None,
            }
        )
    # This director's connections (active and inactive) on each VIP, from the live table.
    connections = connections_by_vip()
    vips = [
        {"vip": vip, "announced": True, "reason": "", "connections": connections.get(vip, 0)}
        for vip in state.get("announced", [])
    ]
    vips += [
        {
            "vip": vip,
            "announced": False,
            "reason": BGP_WORDS.shown(reason),
            "connections": connections.get(vip, 0),
        }
        for vip, reason in state.get("withdrawn", {}).items()
    ]
    total = sum(v["connections"] for v in vips)
    return {
        "bgp": {
            "message": state.get("message", ""),
            "sessions": sessions,
            "vips": sorted(vips, key=lambda v: tuple(int(p) for p in v["vip"].split("."))),
            "connections": total,
            "out_of_service": service.out_of_service(service_file()),
            # The operator's flag set or cleared, and the worker not there yet.
            "pending": service.out_of_service(service_file()) == state.get("in_service", True),
        }
    }


def set_service(out: bool) -> tuple[bool, str]:
    """Take this director out of service (out) or put it back: the GUI's and the API's one way.
    Returns whether anything changed and what to tell the operator; a change is audited."""
    changed = service.set_out_of_service(service_file(), out)
    if changed:
        audit.record(
            "bgp_service",
            "this director",
            {"out_of_service": out},
            summary="taken out of service (VIPs withdrawn)" if out else "put back in service",
        )
    if out:
        text = _(
            "This director is out of service: it withdraws every VIP within a poll of its "
            "worker, and the routers send its flows to the other directors."
        )
    else:
        text = _("This director is back in service: it announces the VIPs it can serve again.")
    return changed, text


@require_http_methods(["GET", "POST"])
@requires(PUBLISH_REVISION)
def director_service(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST takes this director out of service (action=out) or puts
    it back (action=in)."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("out", "in"):
            messages.error(request, _("Nothing was changed: unknown action."))
            return redirect("monitoring:control")
        _changed, text = set_service(action == "out")
        messages.success(request, text)
        return redirect("monitoring:control")
    return render_tab(
        request,
        "monitoring/bgp_service_confirm.html",
        "control",
        {"bgp": bgp_context()["bgp"], "out_of_service": service.out_of_service(service_file())},
    )
