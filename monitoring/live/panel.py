"""The live part of CONTROL/MONITORING: daemon status, the kernel table in `ipvsadm -Ln`'s columns
with each real server's health, last check and reason beside its line, and a connection graph
per real server. Read-only (GET), a constant number of queries whatever the table's size (the
table is shown a page of services at a time), and refreshable on its own (htmx) or with the whole
page (meta refresh, without JS)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.views.decorators.http import require_GET

from monitoring.arpguard.watch import read_conflicts
from monitoring.ipvs.table import endpoint
from monitoring.live import states as runtime
from monitoring.models import ConnectionSample, RealServerHealth, WorkerStatus
from monitoring.worker.conf import worker
from monitoring.worker.heartbeat import last_seen

FRESH = timedelta(seconds=10)  # a heartbeat older than this means the worker is stopped
MIN_RATE, DEFAULT_RATE = 2, 10
GRAPH_W, GRAPH_H = 120, 24
GRAPH_SPAN = timedelta(hours=1)
SERVICES_PER_PAGE = 20  # 200 real-server lines with their graphs at 10 a service
DOWN_LISTED = 100  # the "down now" list is a summary, not a second table


def refresh_settings(request: HttpRequest) -> tuple[bool, int]:
    auto = request.GET.get("auto_update") == "1"
    try:
        rate = int(request.GET.get("rate", DEFAULT_RATE))
    except ValueError:
        rate = DEFAULT_RATE
    return auto, max(MIN_RATE, rate)


def sparkline(points: list[tuple[float, int]]) -> str:
    """An SVG polyline's points for (seconds ago, connections) over the last hour: x is time, so
    a gap in the samples (the worker was stopped) shows as a gap in time."""
    if len(points) < 2:
        return ""
    span = GRAPH_SPAN.total_seconds()
    top = max(value for _ago, value in points) or 1
    return " ".join(
        f"{(1 - ago / span) * GRAPH_W:.1f},{GRAPH_H - 1 - (value / top) * (GRAPH_H - 2):.1f}"
        for ago, value in points
    )


def _latency(ms: float | None) -> str:
    """As `:g` writes it (1.5, 1234.5, 0.25), with the language's decimal mark (1,5 in Spanish)."""
    return "" if ms is None else f"{number_format(float(f'{ms:g}'))} ms"


def _clock(moment) -> str:
    return "" if moment is None else timezone.localtime(moment).strftime("%H:%M:%S")


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


def live_context(request: HttpRequest) -> dict:
    status = WorkerStatus.objects.filter(pk=1).first()
    now = timezone.now()
    if status is not None:  # the file's beat when the row waits behind a database writer
        status.heartbeat = last_seen(status.heartbeat, worker().apply_state)
    running = bool(status and status.heartbeat and now - status.heartbeat < FRESH)
    services = list(status.table) if status and isinstance(status.table, list) else []
    paginator = Paginator(services, SERVICES_PER_PAGE, allow_empty_first_page=True)
    page = paginator.get_page(_page_number(request))
    virtuals = {service["virtual"] for service in page.object_list if service["virtual"]}

    # Health of the real servers of this page's virtual servers, down ones included (a failed
    # real server is not in the kernel table unless quiesced, but it is shown under its service).
    health = {
        (h.virtual_name, h.address, h.port): h
        for h in RealServerHealth.objects.filter(virtual_name__in=virtuals)
    }
    # Samples are a minute apart: their whole minutes since the epoch place them on the last
    # hour's axis without building a datetime for each of tens of thousands of rows.
    series: dict[int, list[tuple[float, int]]] = defaultdict(list)
    now_seconds = now.timestamp()
    for health_id, minute, active, inact in (
        ConnectionSample.objects.filter(
            health_id__in=[h.pk for h in health.values()],
            minute__gte=int((now_seconds - GRAPH_SPAN.total_seconds()) // 60),
        )
        .order_by("minute")
        .values_list("health_id", "minute", "active_conn", "inact_conn")
    ):
        ago = min(max(now_seconds - minute * 60, 0), GRAPH_SPAN.total_seconds())
        series[health_id].append((ago, active + inact))

    by_virtual: dict[str, list] = defaultdict(list)
    for key, h in sorted(health.items()):
        by_virtual[key[0]].append((key, h))
    rows = []
    for service in page.object_list:
        name = service["virtual"]
        lines = []
        shown = set()
        for dest in service["destinations"]:
            key = (name, dest["address"], dest["port"])
            shown.add(key)
            lines.append({**dest, "health": health.get(key), "in_table": True})
        for key, h in by_virtual.get(name, []):
            if key not in shown:
                lines.append(
                    {"endpoint": endpoint(h.address, h.port), "health": h, "in_table": False}
                )
        for line in lines:
            h = line["health"]
            points = series.get(h.pk, []) if h is not None else []
            line["graph"] = sparkline(points)
            line["graph_max"] = max((value for _ago, value in points), default=0)
            if h is not None:  # formatted here: the template's filters cost more at 200 lines
                line["since"] = _clock(h.since)
                line["last_check"] = _clock(h.last_check)
                line["latency"] = _latency(h.latency_ms)
        rows.append({**service, "lines": lines})
    runtime.annotate_live(rows)

    counts = dict(RealServerHealth.objects.values_list("state").annotate(n=Count("id")).order_by())
    down = list(
        RealServerHealth.objects.filter(state="down").order_by("virtual_name", "address", "port")[
            :DOWN_LISTED
        ]
    )
    auto, rate = refresh_settings(request)
    return {
        "worker": status,
        "running": running,
        "rows": rows,
        "page": page,
        "counts": counts,
        "checked": sum(counts.values()),
        "down": down,
        "auto_update": auto,
        "rate": rate,
        "graph_w": GRAPH_W,
        "graph_h": GRAPH_H,
        "can_drain": request.user.has_perm(runtime.DRAIN_SERVER),
        "held_counts": runtime.held_counts(),
        # The ARP guard's warnings: hosts other than the directors answering ARP for a VIP.
        "arp_conflicts": read_conflicts(worker().apply_state).get("conflicts") or [],
    }


@require_GET
def live_panel(request: HttpRequest) -> HttpResponse:
    return render(request, "monitoring/_live_panel.html", live_context(request))


@require_GET
def live_table_text(request: HttpRequest) -> HttpResponse:
    """The whole table exactly as `ipvsadm -Ln` prints it, as plain text (to copy or compare)."""
    status = WorkerStatus.objects.filter(pk=1).first()
    text = status.table_text if status else ""
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
