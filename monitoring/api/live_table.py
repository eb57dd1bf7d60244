"""The live table as data: what CONTROL/MONITORING shows, read the same way (the worker's
status row and its health rows, never the kernel: the web process has no netlink)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count
from django.utils import timezone

from monitoring.ipvs.table import endpoint
from monitoring.live import worker_table
from monitoring.live.panel import FRESH
from monitoring.models import RealServerHealth, WorkerStatus
from monitoring.worker.conf import worker
from monitoring.worker.heartbeat import last_seen

HEALTH_FIELDS = ("state", "since", "last_check", "latency_ms", "last_error")


def worker_summary(status: WorkerStatus | None) -> dict[str, Any]:
    heartbeat = last_seen(status.heartbeat, worker().apply_state) if status else None
    return {
        "running": bool(heartbeat and timezone.now() - heartbeat < FRESH),
        "heartbeat": heartbeat,
        "pid": status.pid if status else None,
        "serial_no": status.serial_no if status else None,
        "started_at": status.started_at if status else None,
        "kernel_ok": bool(status and status.kernel_ok),
        "kernel_message": status.kernel_message if status else "",
    }


# Services per page: 1,000 real servers with their health, about 100 ms of the answer's time
# (the whole table of 1,000 x 10 at once took 2.6 s).
SERVICES_PER_PAGE = 100


def live_table(virtual: str | None = None, page: int = 1) -> dict[str, Any]:
    """The worker's state, health counts, and one page of the services in `ipvsadm -Ln`'s
    order with their real servers: those in the kernel table (weight, connections) and, under
    `out_of_table`, those health took out, each with its health (None: not checked yet).
    `virtual` keeps the services of one virtual server."""
    status = WorkerStatus.objects.filter(pk=1).first()
    # A page of the worker's rows, never its whole table (one query for the count, one for them).
    found = worker_table.services()
    if virtual is not None:
        found = found.filter(virtual=virtual)
    paginator = Paginator(found.values_list("row", flat=True), SERVICES_PER_PAGE,
                          allow_empty_first_page=True)  # fmt: skip
    shown_page = paginator.get_page(page)
    services = list(shown_page.object_list)
    rows = RealServerHealth.objects.filter(
        virtual_name__in={s["virtual"] for s in services}
    ).values("virtual_name", "address", "port", *HEALTH_FIELDS)
    # As plain rows: model instances cost more than the rest of the answer at 10,000 lines.
    health: dict[str, dict[tuple[str, int], dict]] = defaultdict(dict)
    for row in rows:
        health[row.pop("virtual_name")][(row.pop("address"), row.pop("port"))] = row
    shown = []
    for service in services:
        checked = health.get(service["virtual"], {})
        in_table = set()
        destinations = []
        for dest in service["destinations"]:
            key = (dest["address"], dest["port"])
            in_table.add(key)
            destinations.append({**dest, "health": checked.get(key)})
        out = [
            {"endpoint": endpoint(*key), "address": key[0], "port": key[1], "health": row}
            for key, row in sorted(checked.items())
            if key not in in_table
        ]
        shown.append({**service, "destinations": destinations, "out_of_table": out})
    counts = dict(RealServerHealth.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {
        "worker": worker_summary(status),
        "health_counts": counts,
        "page": shown_page.number,
        "pages": paginator.num_pages,
        "services": shown,
    }
