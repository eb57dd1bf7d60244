"""Drain, maintenance and return: the one place that changes a real server's runtime state.

The GUI's buttons, `manage.py realserver` and the API all call `set_state`: the role is checked
there when a user is known, the change is recorded in the audit trail, and `state_changed` is sent
once the row is committed. The worker reads the rows with `held_now` on its poll and enforces them
(what a state does to the table is in `monitoring.live.holds`, free of Django).

A real server is named as health names it, by what the worker sees in the published lvs.cf:
its virtual server's name, its address and the port it is checked on (`RealServerRef`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from monitoring.live.holds import RuntimeState, describe, is_ready
from monitoring.live.worker_table import rows_of
from monitoring.models import (
    PreparedRead,
    RealServerHealth,
    RealServerRuntimeState,
    WorkerStatus,
)
from monitoring.publish import audit
from monitoring.publish.revisions import published_text
from virtualservers.lvsconf.model import DEFAULT_PORT, LvsConfError, RealServerRef
from virtualservers.lvsconf.parse import parse

DRAIN_SERVER = "monitoring.drain_server"
RETURN = "return"
# What the operator asks for, as buttons, the command and the API name it.
ACTIONS = (RuntimeState.DRAIN.value, RuntimeState.MAINTENANCE.value, RETURN)

# Sent after a change is committed, with ref (RealServerRef), old and new (RuntimeState or None:
# normal) and actor (audit.Actor). Notifications listen here.
state_changed = Signal()
# Sent by the worker with ref, the first time a drained real server has no connection left.
drain_ready = Signal()


class StateRefused(Exception):
    """The change cannot be made; the message is for the user."""


@dataclass(frozen=True)
class Change:
    ref: RealServerRef
    old: RuntimeState | None
    new: RuntimeState | None

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _state(action: str | RuntimeState | None) -> RuntimeState | None:
    if action is None or action == RETURN:
        return None
    try:
        return RuntimeState(action)
    except ValueError:
        raise StateRefused(
            _("unknown state %(state)r: choose one of %(states)s")
            % {"state": action, "states": ", ".join(ACTIONS)}
        ) from None


def label(ref: RealServerRef, translated: bool = False) -> str:
    """How a message names the real server; English (the audit trail's) unless `translated`."""
    if translated:
        return _("real server %(address)s:%(port)s of %(virtual)s") % {
            "address": ref.address,
            "port": ref.port,
            "virtual": ref.virtual,
        }
    return f"real server {ref.address}:{ref.port} of {ref.virtual}"


def published_servers() -> dict[RealServerRef, str]:
    """Every real server of the published configuration (active or not), with its name."""
    _label, text = published_text()
    if not text:
        return {}
    try:
        config, _warnings = parse(text)
    except LvsConfError:
        return {}
    servers: dict[RealServerRef, str] = {}
    for virtual in config.virtuals:
        for server in virtual.servers:
            port = server.port or virtual.effective_port
            servers[RealServerRef(virtual.name, server.address or "0.0.0.0", port)] = server.name
    return servers


def resolve(name: str) -> RealServerRef:
    """`VIRTUAL/REAL`, REAL being the real server's name or its ADDRESS[:PORT], in the published
    configuration."""
    virtual, sep, real = name.partition("/")
    if not sep or not virtual or not real:
        raise StateRefused(
            _("%(name)r: write VIRTUAL/REAL (a real server's name or address)") % {"name": name}
        )
    candidates = [
        ref
        for ref, server in published_servers().items()
        if ref.virtual == virtual
        and real
        in (server, ref.address, f"{ref.address}:{ref.port}", f"[{ref.address}]:{ref.port}")
    ]
    if not candidates:
        raise StateRefused(
            _("%(name)r: no such real server in the published configuration") % {"name": name}
        )
    if len(candidates) > 1:
        raise StateRefused(
            _("%(name)r names several real servers: add the port (ADDRESS:PORT)") % {"name": name}
        )
    return candidates[0]


def set_state(
    ref: RealServerRef,
    action: str | RuntimeState | None,
    user=None,
    address: str | None = None,
) -> Change:
    """Hold `ref` in a runtime state ("drain", "maintenance"), or return it ("return" or None).

    With `user`, refused unless the user has the drain permission (the command, run as an OS
    account on the director, passes none); `user` and `address` are then recorded as the actor,
    else the request's or the command's actor is. A state is only set on a real server of the
    published configuration; returning always works (a server removed since still has its row)."""
    new = _state(action)
    if user is not None and not user.has_perm(DRAIN_SERVER):
        raise PermissionDenied(
            _("Your role does not allow this (%(permission)s).") % {"permission": DRAIN_SERVER}
        )
    if new is not None and ref not in published_servers():
        raise StateRefused(
            _("%(server)s is not in the published configuration: apply it first")
            % {"server": label(ref, translated=True)}
        )
    actor = None
    if user is not None:
        actor = audit.Actor(user.get_username(), address or "")
    with transaction.atomic():
        row = (
            RealServerRuntimeState.objects.select_for_update()
            .filter(virtual_name=ref.virtual, address=ref.address, port=ref.port)
            .first()
        )
        old = None if row is None else _state(row.state)
        change = Change(ref, old, new)
        if not change.changed:
            return change
        who = (actor or audit.current_actor()).username
        if new is None:
            assert row is not None
            row.delete()
        elif row is None:
            RealServerRuntimeState.objects.create(
                virtual_name=ref.virtual,
                address=ref.address,
                port=ref.port,
                state=new.value,
                since=timezone.now(),
                set_by=who[:150],
            )
        else:
            row.state, row.since, row.set_by = new.value, timezone.now(), who[:150]
            row.save(update_fields=["state", "since", "set_by"])
        audit.record(
            new.value if new is not None else RETURN,
            label(ref),
            {"runtime state": [old.value if old else "normal", new.value if new else "normal"]},
            actor=actor,
        )
        transaction.on_commit(
            lambda: state_changed.send(
                sender=RealServerRuntimeState,
                ref=ref,
                old=old,
                new=new,
                actor=actor or audit.current_actor(),
            )
        )
    return change


_HELD = PreparedRead(
    RealServerRuntimeState.objects.values_list("virtual_name", "address", "port", "state")
)


def held_now() -> dict[RealServerRef, RuntimeState]:
    """Every runtime state held now (the worker's poll: one small query)."""
    held = {}
    for virtual, address, port, state in _HELD.rows():
        try:
            held[RealServerRef(virtual, address, port)] = RuntimeState(state)
        except ValueError:
            continue
    return held


# --- what the pages show ------------------------------------------------------------------------


def held_rows(virtuals) -> dict[tuple[str, str, int], RealServerRuntimeState]:
    """The runtime states of these virtual servers' real servers, keyed as health rows are."""
    return {
        (row.virtual_name, row.address, row.port): row
        for row in RealServerRuntimeState.objects.filter(virtual_name__in=list(virtuals))
    }


def held_counts() -> dict[str, int]:
    """How many real servers are held in each state ("drain", "maintenance")."""
    return dict(
        RealServerRuntimeState.objects.values_list("state").annotate(n=Count("id")).order_by()
    )


def annotate_live(rows: list[dict]) -> None:
    """Add each live-table line's runtime state (one query), in words apart from its health:
    the kernel's own counters say how far a drain has come."""
    held = held_rows({service["virtual"] for service in rows if service["virtual"]})
    for service in rows:
        for line in service["lines"]:
            h = line["health"]
            row = held.get((h.virtual_name, h.address, h.port)) if h is not None else None
            state = row.state if row is not None else None
            args = (state, line["in_table"], line.get("weight"))
            counts = (line.get("active", 0), line.get("inact", 0))
            line["held"] = row
            line["runtime"] = describe(*args, *counts)
            line["ready"] = is_ready(*args, *counts)


def _table_destinations(virtual_name: str) -> dict[tuple[str, int], dict] | None:
    """The destinations of `virtual_name`'s service in the worker's last table (the one CONTROL
    shows), by (address, port); None when the worker has published no table."""
    if not WorkerStatus.objects.filter(pk=1).exists():
        return None
    found: dict[tuple[str, int], dict] = {}
    for service in rows_of([virtual_name]):
        for dest in service.get("destinations", []):
            found[(dest["address"], dest["port"])] = dest
    return found


def annotate_reals(virtual, reals) -> list:
    """The draft's real servers of `virtual`, each with `runtime_ref` (how the worker names it
    once published) and `runtime` (its state, words and readiness).

    What the kernel does (in the table, weight, connections) comes from the worker's last table,
    as on CONTROL: the health rows are written at most every ten seconds, and read alone they
    showed the state before the action ("drain requested" where CONTROL said drained)."""
    reals = list(reals)
    port = virtual.port if virtual.port is not None else DEFAULT_PORT
    held = held_rows([virtual.name])
    table = _table_destinations(virtual.name)
    health = {
        (h.address, h.port): h for h in RealServerHealth.objects.filter(virtual_name=virtual.name)
    }
    for real in reals:
        key = (real.address or "0.0.0.0", real.port or port)
        real.runtime_ref = RealServerRef(virtual.name, *key)
        row = held.get((virtual.name, *key))
        h = health.get(key)
        state = row.state if row is not None else None
        if table is not None and (key in table or h is not None):
            dest = table.get(key)
            in_table = dest is not None
            weight = dest.get("weight") if in_table else None
            args = (state, in_table, weight)
            counts = (dest.get("active", 0), dest.get("inact", 0)) if in_table else (0, 0)
        elif h is None:  # the worker has not reported on it: nothing known to be applied yet
            args, counts = (state, True, 1), (0, 0)
        else:
            args, counts = (state, h.weight is not None, h.weight), (h.active_conn, h.inact_conn)
        real.runtime = {
            "held": row,
            "words": describe(*args, *counts),
            "ready": is_ready(*args, *counts),
        }
    return reals
