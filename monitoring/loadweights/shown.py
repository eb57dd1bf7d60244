"""The file through which CONTROL/MONITORING and /metrics see the load weights: `<apply
state>.load`, rewritten by the worker's status thread when a row changed (the web never asks the
worker). Django-free."""

from __future__ import annotations

from pathlib import Path

from monitoring.metrics.counters import read_json, sibling, write_json

SUFFIX = ".load"


def publish_rows(state_path: Path, rows: list[dict]) -> None:
    write_json(sibling(state_path, SUFFIX), {"rows": rows})


def read_rows(state_path: Path) -> list[dict]:
    rows = read_json(sibling(state_path, SUFFIX)).get("rows")
    return rows if isinstance(rows, list) else []
