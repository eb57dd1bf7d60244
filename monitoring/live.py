"""The live part of CONTROL/MONITORING: daemon status, the kernel table with each real server's
health beside it, and a connection graph per real server. Read-only (GET), a constant number of
queries, and refreshable on its own (htmx) or with the whole page (meta refresh, without JS)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from monitoring.models import ConnectionSample, RealServerHealth, WorkerStatus

FRESH = timedelta(seconds=10)  # a heartbeat older than this means the worker is stopped
MIN_RATE, DEFAULT_RATE = 2, 10
GRAPH_W, GRAPH_H = 120, 24


def refresh_settings(request: HttpRequest) -> tuple[bool, int]:
    auto = request.GET.get("auto_update") == "1"
    try:
        rate = int(request.GET.get("rate", DEFAULT_RATE))
    except ValueError:
        rate = DEFAULT_RATE
    return auto, max(MIN_RATE, rate)


def sparkline(points: list[int]) -> str:
    """An SVG polyline's points for the last hour of connection counts."""
    if len(points) < 2:
        return ""
    top = max(points) or 1
    step = GRAPH_W / (len(points) - 1)
    return " ".join(
        f"{i * step:.1f},{GRAPH_H - 1 - (v / top) * (GRAPH_H - 2):.1f}"
        for i, v in enumerate(points)
    )


def live_context(request: HttpRequest) -> dict:
    status = WorkerStatus.objects.filter(pk=1).first()
    now = timezone.now()
    running = bool(status and status.heartbeat and now - status.heartbeat < FRESH)
    health = list(RealServerHealth.objects.order_by("virtual_name", "address", "port"))
    since = now - timedelta(hours=1)
    series: dict[int, list[int]] = defaultdict(list)
    for health_id, active, inact in (
        ConnectionSample.objects.filter(at__gte=since)
        .order_by("at")
        .values_list("health_id", "active_conn", "inact_conn")
    ):
        series[health_id].append(active + inact)
    for row in health:
        row.graph = sparkline(series.get(row.pk, []))
        row.graph_max = max(series.get(row.pk, [0]) or [0])
    auto, rate = refresh_settings(request)
    return {
        "worker": status,
        "running": running,
        "health": health,
        "auto_update": auto,
        "rate": rate,
        "graph_w": GRAPH_W,
        "graph_h": GRAPH_H,
    }


@require_GET
def live_panel(request: HttpRequest) -> HttpResponse:
    return render(request, "monitoring/_live_panel.html", live_context(request))
