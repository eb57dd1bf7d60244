"""Which VIPs this director may announce: only what it can serve (anycast-healthchecker's rule).

A VIP is announced while this director's worker has loaded its IPVS table and at least one
virtual server on that VIP has a destination that takes connections: a real server up (not
failed, not drained, not in maintenance, weight above 0) or its sorry server. Otherwise the
router would keep sending flows to a director that can only drop them, while another one could
serve them.

Plain data: the rule reads the same desired table the worker loads (monitoring.ipvs.table), so
that what is announced and what the kernel holds can never disagree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass

from monitoring.ipvs.table import desired_state, service_key
from monitoring.live.holds import Held
from virtualservers.lvsconf.model import LvsConfig, RealServerRef

NOT_LOADED = "the worker has not loaded the IPVS table"
STOPPED = "the worker stopped"
NOBODY_UP = "no real server (nor sorry server) of its virtual servers is up"
OUT_OF_SERVICE = "this director was taken out of service by an operator"


@dataclass(frozen=True)
class Decision:
    vip: str
    announce: bool
    reason: str  # why it is withdrawn ("" when announced)


def decide(
    config: LvsConfig,
    table_loaded: bool,
    down: Collection[RealServerRef] = (),
    held: Held | None = None,
    in_service: bool = True,
) -> list[Decision]:
    """One decision per IPv4 VIP of the active virtual servers, in lvs.cf's order.
    `in_service`: False while an operator has taken this director out (monitoring.bgp.service):
    nothing is announced, whatever could be served."""
    state = desired_state(config, down, held=held)
    serving: dict[str, bool] = {}
    for virtual in config.virtuals:
        if not virtual.effective_active or not virtual.address:
            continue
        try:
            vip = ipaddress.IPv4Address(virtual.address)
        except ValueError:
            continue  # IPv6 VIPs: not announced yet (BIRD's ipv6 channel is not written)
        if vip.is_unspecified:
            continue
        entry = state.table.get(service_key(virtual))
        up = entry is not None and any(d.weight > 0 for d in entry.destinations.values())
        serving[str(vip)] = serving.get(str(vip), False) or up
    decisions = []
    for vip, up in serving.items():
        if not in_service:
            decisions.append(Decision(vip, False, OUT_OF_SERVICE))
        elif not table_loaded:
            decisions.append(Decision(vip, False, NOT_LOADED))
        else:
            decisions.append(Decision(vip, up, "" if up else NOBODY_UP))
    return decisions


def announced(decisions: Collection[Decision]) -> list[str]:
    return [d.vip for d in decisions if d.announce]
