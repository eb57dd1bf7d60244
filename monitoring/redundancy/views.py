"""CONTROL/MONITORING's DIRECTOR panel (this director's role, the peer, the last transition and
why) and the hand-over of the active role to the peer.

The role comes from the role file keepalived's notify program writes; what the worker found
(keepalived missing or stopped, the sync daemon) from the worker's redundancy state file. Both
are small files: the web process needs no root and loads no netlink code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from monitoring.publish import audit
from monitoring.publish.revisions import PUBLISH_REVISION
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.director import hand_over, handing_over
from monitoring.redundancy.role import read_role
from virtualservers.tabs import render_tab, requires


def worker_state() -> dict[str, Any]:
    try:
        data = json.loads(redundancy().status_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def director_context() -> dict[str, Any]:
    """What the DIRECTOR panel shows."""
    role = read_role(redundancy().role_file)
    state = worker_state()
    since = datetime.fromtimestamp(role.since, UTC) if role.since else None
    return {
        "director": {
            "role": role,
            "since": since,
            "enabled": bool(state.get("enabled")),
            "message": state.get("message", ""),
            "takeover_seconds": state.get("takeover_seconds"),
            "sync_daemons": state.get("sync_daemons", []),
            "handing_over": handing_over(redundancy().yield_file),
        }
    }


@require_http_methods(["GET", "POST"])
@requires(PUBLISH_REVISION)
def handover(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST gives the active role to the peer director."""
    role = read_role(redundancy().role_file)
    if request.method == "POST":
        if not role.is_active:
            messages.error(
                request,
                _("This director is not the active one (it is %(role)s): nothing to hand over.")
                % {"role": role.role},
            )
            return redirect("monitoring:control")
        hand_over(redundancy().yield_file)
        audit.record(
            "handover", f"director role to {role.peer}", summary="active role handed to the peer"
        )
        messages.success(
            request,
            _(
                "Handing the active role to %(peer)s: this director leaves it now and stays "
                "standby (no automatic fail-back)."
            )
            % {"peer": role.peer or _("the peer")},
        )
        return redirect("monitoring:control")
    return render_tab(request, "monitoring/handover_confirm.html", "control", {"role": role})
