"""The live part of CONTROL/MONITORING: daemon status, the kernel table in `ipvsadm -Ln`'s columns
with each real server's health, last check and reason beside its line, and a connection graph
per real server. Read-only (GET), a constant number of queries whatever the table's size (the
table is shown a page of services at a time), and refreshable on its own (htmx) or with the whole
page (meta refresh, without JS)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, tzinfo
from urllib.parse import urlencode

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from monitoring.arpguard.watch import read_conflicts
from monitoring.ipvs.table import endpoint, format_rows
from monitoring.live import states as runtime
from monitoring.live import worker_table
from monitoring.models import (
    ConnectionSample,
    RealServerHealth,
    WorkerStatus,
)
from monitoring.worker.conf import worker
from monitoring.worker.heartbeat import last_seen
from virtualservers.lvsconf.model import RealServerRef

FRESH = timedelta(seconds=10)  # a heartbeat older than this means the worker is stopped
MIN_RATE, DEFAULT_RATE = 2, 10
GRAPH_W, GRAPH_H = 120, 24
GRAPH_SPAN = timedelta(hours=1)
# 100 real-server lines with their graphs at 10 a service: each line is ~2 kB of HTML and most
# of the page's time; search, "only down or held" and page numbers reach the others.
SERVICES_PER_PAGE = 10
DOWN_GROUPS = 5  # "Down now" names the virtual servers with the most down...
DOWN_FIRST = 3  # ...and the first few of each; the live table filtered to them shows the rest
PROBLEMS = "problems"  # ?show=problems: only services with a real server down or held


BUTTONS = (
    ("drain", _("Drain"), _("Weight 0: no new connections; the ones it has go on")),
    ("maintenance", _("Maintenance"), _("Out of the table now (its connections end)")),
    ("return", _("Return"), _("Back to normal: its health decides again")),
)


def hold_buttons(state: str | None, buttons: tuple = BUTTONS) -> list[tuple[str, str, str]]:
    """Drain and Maintenance unless it is so already, Return when it is held (of `buttons`:
    BUTTONS, or their words already translated)."""
    state = state or ""
    return [b for b in buttons if b[0] != state and (b[0] != runtime.RETURN or state)]


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


def _clock(moment: datetime | None, zone: tzinfo) -> str:
    # The zone looked up once a load: timezone.localtime's own look-up, 200 times, cost more
    # than the formatting.
    return "" if moment is None else moment.astimezone(zone).strftime("%H:%M:%S")


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


def down_now() -> tuple[list[dict], int]:
    """The virtual servers with the most real servers down (DOWN_GROUPS of them), each with its
    count and its first DOWN_FIRST down real servers; and how many virtual servers have one down.
    Three queries whatever the number down."""
    down = RealServerHealth.objects.filter(state="down")
    groups = list(
        down.values("virtual_name")
        .annotate(n=Count("id"))
        .order_by("-n", "virtual_name")[:DOWN_GROUPS]
    )
    firsts = (
        down.filter(virtual_name__in=[g["virtual_name"] for g in groups])
        .annotate(
            rank=Window(
                RowNumber(), partition_by=F("virtual_name"), order_by=(F("address"), F("port"))
            )
        )
        .filter(rank__lte=DOWN_FIRST)
        .order_by("virtual_name", "address", "port")
    )
    by_name: dict[str, list] = defaultdict(list)
    for h in firsts:
        by_name[h.virtual_name].append(h)
    for group in groups:
        group["first"] = by_name[group["virtual_name"]]
        group["more"] = group["n"] - len(group["first"])
    return groups, down.values("virtual_name").distinct().count()


def live_context(request: HttpRequest) -> dict:
    status = WorkerStatus.objects.filter(pk=1).first()
    now = timezone.now()
    if status is not None:  # the file's beat when the row waits behind a database writer
        status.heartbeat = last_seen(status.heartbeat, worker().apply_state)
    running = bool(status and status.heartbeat and now - status.heartbeat < FRESH)
    query = request.GET.get("q", "").strip()
    problems = request.GET.get("show") == PROBLEMS
    # The page's services alone are read, whatever the table's size.
    page, services = worker_table.page_of(query, problems, _page_number(request), SERVICES_PER_PAGE)
    paginator = page.paginator
    virtuals = {service["virtual"] for service in services if service["virtual"]}

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
    zone = timezone.get_current_timezone()
    graph_label = gettext("connections over the last hour, peak %(peak)s")
    for service in services:
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
            line["graph_max"] = peak = max((value for _ago, value in points), default=0)
            if line["graph"]:
                line["graph_label"] = graph_label % {"peak": peak}
            if h is not None:  # formatted here: the template's filters cost more at 200 lines
                line["since"] = _clock(h.since, zone)
                line["last_check"] = _clock(h.last_check, zone)
                line["latency"] = _latency(h.latency_ms)
        rows.append({**service, "lines": lines})
    runtime.annotate_live(rows)
    can_drain = request.user.has_perm(runtime.DRAIN_SERVER)
    if can_drain:
        # The buttons' words are chosen here, once a line: 200 inclusion tags, each with its
        # own forms and CSRF token, were half of the page's time. Translated once a load, not
        # once a button.
        words = tuple((action, str(text), str(title)) for action, text, title in BUTTONS)
        for service in rows:
            for line in service["lines"]:
                h = line["health"]
                if h is not None:
                    line["buttons"] = hold_buttons(
                        line["held"].state if line["held"] else "", words
                    )
                    line["who"] = runtime.label(
                        RealServerRef(h.virtual_name, h.address, h.port), translated=True
                    )

    counts = dict(RealServerHealth.objects.values_list("state").annotate(n=Count("id")).order_by())
    down, down_virtuals = down_now() if counts.get("down") else ([], 0)
    auto, rate = refresh_settings(request)
    kept = {"q": query, "show": PROBLEMS if problems else ""}
    if auto:
        kept.update(auto_update="1", rate=str(rate))
    kept = {key: value for key, value in kept.items() if value}
    # Where a Drain/Maintenance/Return button comes back to: this page of this search.
    back = urlencode({**kept, "page": page.number} if page.number > 1 else kept)
    return {
        "worker": status,
        "running": running,
        "rows": rows,
        "page": page,
        "page_numbers": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "page_query": urlencode(kept),
        "problems_query": urlencode({**kept, "show": PROBLEMS}),
        "back_url": reverse("monitoring:control") + (f"?{back}" if back else ""),
        "query": query,
        "problems": problems,
        # A table without services (or the worker's note on it), as ipvsadm -Ln prints it.
        "empty_table": (
            status.table_note + format_rows([])
            if status and status.table_note is not None and not page.paginator.count
            else ""
        ),
        "services_total": (
            paginator.count if not (query or problems) else worker_table.service_count()
        ),
        "counts": counts,
        "checked": sum(counts.values()),
        "down": down,
        "down_virtuals": down_virtuals,
        "auto_update": auto,
        "rate": rate,
        "graph_w": GRAPH_W,
        "graph_h": GRAPH_H,
        "can_drain": can_drain,
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
    return HttpResponse(worker_table.ipvsadm_text(), content_type="text/plain; charset=utf-8")
