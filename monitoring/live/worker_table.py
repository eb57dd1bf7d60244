"""The worker's last table in the database, a row a service (WorkerTableService): the status
writer's side (write_rows: only the rows a diff names) and the readers' (a page of services,
some virtual servers' services, counts and sums), so that no reader decodes the whole table to
show part of it. At 10,000 x 10 the single JSON document this replaced was 14.6 MB, and the
first CONTROL load after each change spent 350-460 ms decoding it."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from monitoring.ipvs.table import format_rows
from monitoring.live.servicerows import RowDiff, row_diff, service_row
from monitoring.models import (
    RealServerHealth,
    RealServerRuntimeState,
    WorkerStatus,
    WorkerTableService,
    new_table_stamp,
    upsert,
)

BATCH = 500  # rows a statement: well under SQLite's limit of bound variables
# The stored columns beside the key, the shown row last (written as its JSON text).
COLUMNS = ("virtual", "service", "address", "addresses", "connections", "row")


def write_rows(diff: RowDiff) -> None:
    """Write what `diff` says, inside the caller's transaction: insert or update its written rows
    and delete its deleted keys; when it is `whole`, every other stored row too. In key order, so
    two workers writing at once take the rows' locks in the same order."""
    deleted = set(diff.deleted)
    if diff.whole:
        kept = set(WorkerTableService.objects.values_list("key", flat=True))
        deleted |= kept - diff.written.keys()
    keys = sorted(deleted)
    for start in range(0, len(keys), BATCH):
        WorkerTableService.objects.filter(key__in=keys[start : start + BATCH]).delete()
    rows = []
    for key in sorted(diff.written):
        stored = service_row(diff.written[key])
        rows.append(
            (key, *(getattr(stored, name) for name in COLUMNS[:-1]), json.dumps(stored.row))
        )
    upsert(WorkerTableService, ("key",), COLUMNS, rows)


def replace_table(rows: Iterable[dict]) -> None:
    """Store `rows` (table_rows' form) as the whole table, with a new stamp as any worker's
    write: a test's fixture, a benchmark's."""
    write_rows(row_diff(None, {service_row(row).key: row for row in rows}))
    WorkerStatus.objects.filter(pk=1).update(table_stamp=new_table_stamp())


# --- the readers ------------------------------------------------------------------------------


def services() -> QuerySet[WorkerTableService]:
    return WorkerTableService.objects.all()


def service_count() -> int:
    return WorkerTableService.objects.count()


def searched(query: str, problems: bool) -> QuerySet[WorkerTableService]:
    """The services the live table's search and its "only down or held" box leave, in the
    table's order (one query with the health and runtime rows as subqueries). A service is found
    by its virtual server's name, its VIP (in `TCP 192.0.2.1:80`) or one of its real servers'
    addresses (in the table, or down and out of it: the health rows)."""
    found = WorkerTableService.objects.all()
    if query:
        out_of_table = RealServerHealth.objects.filter(address__icontains=query).values(
            "virtual_name"
        )
        match = (
            Q(virtual__icontains=query)
            | Q(service__icontains=query)
            | Q(virtual__in=out_of_table)
            | Q(addresses__icontains=query)
        )
        found = found.filter(match)
    if problems:
        down = RealServerHealth.objects.filter(state="down").values("virtual_name")
        held = RealServerRuntimeState.objects.values("virtual_name")
        found = found.filter(Q(virtual__in=down) | Q(virtual__in=held))
    return found


def page_of(query: str, problems: bool, number: int, per_page: int) -> tuple[Page, list[dict]]:
    """The page `number` of the services `searched` leaves (the last one past the end), and its
    services in table_rows' form: two queries whatever the table's size. A search's filter (its
    subqueries read the health rows) is evaluated once, for the keys it leaves; then the page's
    rows by key. Without one, a count and a slice."""
    found = searched(query, problems)
    if not (query or problems):
        paginator = Paginator(found.values_list("row", flat=True), per_page)
        page = paginator.get_page(number)
        return page, list(page.object_list)
    page = Paginator(list(found.values_list("key", flat=True)), per_page).get_page(number)
    keys = list(page.object_list)
    rows = (
        WorkerTableService.objects.filter(key__in=keys)
        if keys
        else WorkerTableService.objects.none()
    )
    return page, list(rows.values_list("row", flat=True))


def rows_of(virtuals: Collection[str]) -> list[dict]:
    """The services of these virtual servers, in the table's order (table_rows' form)."""
    if not virtuals:
        return []
    return list(
        WorkerTableService.objects.filter(virtual__in=list(virtuals)).values_list("row", flat=True)
    )


def ipvsadm_text() -> str:
    """The whole table as `ipvsadm -Ln` prints it, under the worker's note when it is the table
    it would apply; "" before the worker wrote one (or with nothing published)."""
    status = WorkerStatus.objects.filter(pk=1).values("table_note").first()
    if status is None or status["table_note"] is None:
        return ""
    return status["table_note"] + format_rows(all_rows())


def all_rows() -> list[dict]:
    """Every service, in the table's order (/metrics exposes every real server)."""
    return list(WorkerTableService.objects.values_list("row", flat=True))


def connections_by_vip() -> dict[str, int]:
    """Active and inactive connections summed over each VIP's services (fwmark ones have none)."""
    return dict(
        WorkerTableService.objects.exclude(address="")
        .values("address")
        .annotate(n=Coalesce(Sum("connections"), 0))
        .order_by()
        .values_list("address", "n")
    )
