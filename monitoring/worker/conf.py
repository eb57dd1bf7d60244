"""The worker's and applylvs' settings, read once: the IPVS driver, the apply state beside which
the coordination files live, drift repair's and slow start's cadence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from virtualservers.conf import resolved_once


@dataclass(frozen=True)
class WorkerSettings:
    ipvs_driver: str  # LVSADMIN_IPVS_DRIVER: netlink or memory
    apply_state: Path  # LVSADMIN_APPLY_STATE
    drift_every: float  # LVSADMIN_DRIFT_REPAIR_SECONDS
    slow_start_step: float  # LVSADMIN_SLOW_START_STEP_SECONDS
    arp_guard: bool  # LVSADMIN_ARP_GUARD


@resolved_once
def worker() -> WorkerSettings:
    return WorkerSettings(
        ipvs_driver=settings.LVSADMIN_IPVS_DRIVER,
        apply_state=Path(settings.LVSADMIN_APPLY_STATE),
        drift_every=settings.LVSADMIN_DRIFT_REPAIR_SECONDS,
        slow_start_step=settings.LVSADMIN_SLOW_START_STEP_SECONDS,
        arp_guard=settings.LVSADMIN_ARP_GUARD,
    )
