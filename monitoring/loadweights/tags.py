"""{% load_weights %}: CONTROL/MONITORING's table of the real servers whose weights follow load:
the configured weight, the weight in the kernel now, the load's weight and why (the Django side
of loadweights; the worker writes the rows, shown.py)."""

from __future__ import annotations

from typing import Any

from django import template

from monitoring.live.worker_table import rows_of
from monitoring.loadweights.shown import read_rows
from monitoring.worker.conf import worker

register = template.Library()
LISTED = 200  # the servers the load moved first; /metrics has every one


def kernel_weights(table: object) -> dict[tuple[str, str, int], int]:
    """(virtual, address, port) -> the weight the kernel has now, from the worker's last dump."""
    weights: dict[tuple[str, str, int], int] = {}
    for service in table if isinstance(table, list) else []:
        for dest in service.get("destinations") or []:
            weights[(service.get("virtual") or "", dest["address"], dest["port"])] = dest["weight"]
    return weights


def load_rows(rows: list[dict], kernel: dict[tuple[str, str, int], int]) -> list[dict]:
    """The rows to show, the ones the load or an agent moved first."""
    shown = []
    for row in rows:
        key = (row["virtual"], row["address"], row["port"])
        moved = row["load_weight"] != row["configured"] or row["held"] or row["down"]
        shown.append({**row, "current": kernel.get(key), "moved": bool(moved)})
    shown.sort(key=lambda r: (not r["moved"], r["virtual"], r["address"], r["port"]))
    return shown


@register.inclusion_tag("monitoring/_load_weights.html")
def load_weights() -> dict[str, Any]:
    rows = read_rows(worker().apply_state)
    if not rows:
        return {"rows": []}
    # The kernel's weights of these servers' services alone, not the whole table.
    shown = load_rows(rows, kernel_weights(rows_of({row["virtual"] for row in rows})))
    return {"rows": shown[:LISTED], "more": max(0, len(shown) - LISTED)}
