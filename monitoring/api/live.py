"""The live table as data: what CONTROL/MONITORING shows, read the same way (the worker's
status row and its health rows, never the kernel: the web process has no netlink)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count
from django.utils import timezone

from monitoring.ipvs.table import endpoint
from monitoring.live import FRESH
from monitoring.models import RealServerHealth, WorkerStatus

HEALTH_FIELDS = ("state", "since", "last_check", "latency_ms", "last_error")


def _health(row: RealServerHealth | None) -> dict[str, Any] | None:
    return None if row is None else {name: getattr(row, name) for name in HEALTH_FIELDS}


def worker_summary(status: WorkerStatus | None) -> dict[str, Any]:
    heartbeat = status.heartbeat if status else None
    return {
        "running": bool(heartbeat and timezone.now() - heartbeat < FRESH),
        "heartbeat": heartbeat,
        "pid": status.pid if status else None,
        "serial_no": status.serial_no if status else None,
        "started_at": status.started_at if status else None,
        "kernel_ok": bool(status and status.kernel_ok),
        "kernel_message": status.kernel_message if status else "",
    }


def live_table(virtual: str | None = None) -> dict[str, Any]:
    """The worker's state, health counts, and each service in `ipvsadm -Ln`'s order with its
    real servers: those in the kernel table (weight, connections) and, under `out_of_table`,
    those health took out, each with its health (None: not checked yet). `virtual` keeps
    the services of one virtual server."""
    status = WorkerStatus.objects.filter(pk=1).first()
    services = list(status.table) if status and isinstance(status.table, list) else []
    if virtual is not None:
        services = [service for service in services if service["virtual"] == virtual]
    rows = RealServerHealth.objects.filter(virtual_name__in={s["virtual"] for s in services})
    health: dict[str, dict[tuple[str, int], RealServerHealth]] = defaultdict(dict)
    for row in rows:
        health[row.virtual_name][(row.address, row.port)] = row
    shown = []
    for service in services:
        checked = health.get(service["virtual"], {})
        in_table = set()
        destinations = []
        for dest in service["destinations"]:
            key = (dest["address"], dest["port"])
            in_table.add(key)
            destinations.append({**dest, "health": _health(checked.get(key))})
        out = [
            {"endpoint": endpoint(*key), "address": key[0], "port": key[1], "health": _health(row)}
            for key, row in sorted(checked.items())
            if key not in in_table
        ]
        shown.append({**service, "destinations": destinations, "out_of_table": out})
    counts = dict(RealServerHealth.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {"worker": worker_summary(status), "health_counts": counts, "services": shown}
