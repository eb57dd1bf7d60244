"""The worker's last table (WorkerStatus.table: a JSON list of services, each with its virtual
server's name and destinations) as the CONTROL/MONITORING page's parts read it: decoded once per
table the worker writes, not once per page load or per part.

At 10,000 virtual servers x 10 the text is 14.6 MB: reading it from the database took 12-68 ms
a load and decoding it half a second. The row's `table_stamp` changes with every write of the
table, so a load reads the stamp (a few bytes) and the text only when the stamp moved."""

from __future__ import annotations

import json

from django.db.models import TextField
from django.db.models.functions import Cast

from monitoring.models import WorkerStatus

_kept: tuple[str, list[dict]] = ("", [])  # the stamp this process last decoded, and its services


def worker_table(stamp: str | None = None) -> list[dict]:
    """The services of the worker's last table; [] before it wrote one. `stamp` is the row's
    `table_stamp` when the caller has read the row already (one query fewer). Shared between
    callers: read it, do not change it."""
    global _kept
    if stamp is None:
        stamp = WorkerStatus.objects.filter(pk=1).values_list("table_stamp", flat=True).first()
    if stamp and stamp == _kept[0]:
        return _kept[1]
    # The stamp again beside the text, so that what is kept is one write's pair even when the
    # worker wrote between the two reads. As text: the JSON field would decode it on every read.
    found = (
        WorkerStatus.objects.filter(pk=1)
        .annotate(text=Cast("table", TextField()))
        .values_list("table_stamp", "text")
        .first()
    )
    if found is None or not found[1]:
        return []
    services = json.loads(found[1])
    services = services if isinstance(services, list) else []
    if found[0]:  # a row written before the stamp existed has none: read every time
        _kept = (found[0], services)
    return services
