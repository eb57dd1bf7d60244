"""Runtime states of a real server: what an operator holds it in for a while, outside the
configuration (neither lvs.cf nor the draft knows them), and what that does to the desired table.

- drain: weight 0 in the kernel. IPVS sends a weight-0 destination no new connections, and the
  connections it has go on until they end; the server is "ready" once it has none left.
- maintenance: out of the table altogether, whatever its health says.
- no state (the operator returned it): health decides again, as for any other server.

Plain data, no Django: the worker, `applylvs` and the pages all read the same rules from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from virtualservers.i18n import gettext as _
from virtualservers.lvsconf.model import RealServerRef


class RuntimeState(StrEnum):
    DRAIN = "drain"
    MAINTENANCE = "maintenance"


# The states held now, by real server (a server with none is not in the mapping).
Held = Mapping[RealServerRef, RuntimeState]


def held_weight(state: str | None, weight: int) -> int | None:
    """The weight a server in `state` gets in the table; None: it is not in the table."""
    if state == RuntimeState.MAINTENANCE:
        return None
    if state == RuntimeState.DRAIN:
        return 0
    return weight


def changed_refs(before: Held, after: Held) -> set[RealServerRef]:
    """The real servers whose state differs between two mappings."""
    return {ref for ref in before.keys() | after.keys() if before.get(ref) != after.get(ref)}


def describe(state: str | None, in_table: bool, weight: int | None, active: int, inact: int) -> str:
    """Words for the live table, chosen so that nobody reads them as health (up/down).

    `in_table`, `weight` and the counters are what the kernel shows now: a drain not applied yet
    (the weight is not 0 yet) says so rather than claiming to be ready."""
    if state == RuntimeState.MAINTENANCE:
        return _("in maintenance") if not in_table else _("going into maintenance")
    if state != RuntimeState.DRAIN:
        return ""
    if not in_table:
        return _("drained, ready (not in the table)")
    if weight:
        return _("drain requested")
    if active or inact:
        return _("draining (%(active)s active, %(inact)s inactive)") % {
            "active": active,
            "inact": inact,
        }
    return _("drained, ready")


def is_ready(
    state: str | None, in_table: bool, weight: int | None, active: int, inact: int
) -> bool:
    """A drained server with no connections left (or a server already out of the table)."""
    if state != RuntimeState.DRAIN:
        return False
    return not in_table or (not weight and not active and not inact)
