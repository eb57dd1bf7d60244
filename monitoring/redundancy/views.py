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
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from monitoring.publish import audit
from monitoring.publish.revisions import PUBLISH_REVISION
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.director import hand_over, handing_over
from monitoring.redundancy.role import read_role
from virtualservers.i18n import Wording
from virtualservers.tabs import render_tab, requires

# What keepalived's notify program (redundancy/hook.py, run by keepalived outside Django) and the
# worker record about the role, in English; the DIRECTOR panel shows it in the reader's language.
DIRECTOR_WORDS = Wording(
    [
        gettext_noop("keepalived: MASTER (this director holds the VIPs)"),
        gettext_noop("keepalived: BACKUP (the peer holds the VIPs)"),
        gettext_noop("keepalived: FAULT (a tracked link is down)"),
        gettext_noop("keepalived stopped: this director holds no VIP"),
        gettext_noop("handing the active role to the peer (operator's request)"),
        gettext_noop(
            "keepalived: FAULT until this director's worker has loaded the IPVS table and "
            "switched the sync daemon (it cannot take over before)"
        ),
        gettext_noop("no role file: redundancy is off"),
        gettext_noop("role file names no known role"),
        gettext_noop("backup_active = 0: the only director"),
        gettext_noop("no kernel access: cannot tell which director this is"),
        gettext_noop("waiting for keepalived's first state"),
    ],
    [
        (
            r"^backup_active = 1 but keepalived \((?P<binary>.*)\) is not installed: this "
            r"director cannot take part in failover \(install the keepalived package\)$",
            gettext_noop(
                "backup_active = 1 but keepalived (%(binary)s) is not installed: this director "
                "cannot take part in failover (install the keepalived package)"
            ),
        ),
        (
            r"^keepalived is not running \(no live pid in (?P<pid>.*)\); start it with its "
            r"configuration (?P<conf>.*)$",
            gettext_noop(
                "keepalived is not running (no live pid in %(pid)s); start it with its "
                "configuration %(conf)s"
            ),
        ),
        (
            r"^deadtime (?P<deadtime>\S+) s is shorter than VRRP can promise: the peer takes "
            r"over after about (?P<seconds>\S+) s$",
            gettext_noop(
                "deadtime %(deadtime)s s is shorter than VRRP can promise: the peer takes over "
                "after about %(seconds)s s"
            ),
        ),
        (
            r"^cannot switch the sync daemon: (?P<error>.*)$",
            gettext_noop("cannot switch the sync daemon: %(error)s"),
        ),
        (
            r"^role file unreadable: (?P<error>.*)$",
            gettext_noop("role file unreadable: %(error)s"),
        ),
    ],
)


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
            "message": DIRECTOR_WORDS.shown(state.get("message", "")),
            "reason": DIRECTOR_WORDS.shown(role.reason),
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
