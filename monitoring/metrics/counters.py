"""What the worker counts for Prometheus, and the two small files through which the web process
reads it.

The worker and the web are separate processes, and /metrics builds its answer at scrape time
from what the web can read without netlink or root: the database (the live table, health rows,
revisions) and two JSON files beside the apply state, like the worker's view file:

- `<apply state>.metrics`, rewritten every heartbeat: check latency histogram, health
  transitions, kernel applies and their duration (all counted since the worker started; a
  restart resets them, which Prometheus' rate() expects of a counter), and the kernel's global
  IPVS counters from /proc/net/ip_vs_stats when the worker drives the real kernel;
- `<apply state>.names`, rewritten only when the enforced configuration changes: the real
  servers' names, which the kernel table does not carry;
- `<apply state>.traffic`, rewritten at each read of the kernel's per-service and
  per-destination traffic counters (every TRAFFIC_EVERY seconds: a netlink dump, one request per
  service, too dear for every heartbeat at 1,000 services).

Django-free (the worker's threads fill it, the web only reads the files).
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Mapping
from pathlib import Path

from monitoring.ipvs.table import ServiceKey, TrafficTable
from virtualservers.lvsconf.files import write_atomically
from virtualservers.lvsconf.model import LvsConfig

# Seconds. A check is a connect or a short request on a LAN: most land in the first buckets, a
# timeout (nanny's default 10 s) in the last.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# A health change is one netlink message (milliseconds); a full converge at 1,000 x 10 reads the
# whole table (seconds).
APPLY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
PROC_IPVS_STATS = "/proc/net/ip_vs_stats"
TRAFFIC_EVERY = 10.0  # seconds between reads of the traffic counters
IPVS_STATS_FIELDS = ("connections", "incoming_packets", "outgoing_packets", "incoming_bytes",
                     "outgoing_bytes")  # fmt: skip


class Histogram:
    """Counts per bucket (not cumulative), their sum and count: the Prometheus histogram's data."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def plus(self, other: Histogram) -> dict:
        """as_dict() of the two histograms' observations together (the same bounds)."""
        counts = [a + b for a, b in zip(self.counts, list(other.counts), strict=True)]
        return {"bounds": list(self.bounds), "counts": counts, "sum": self.sum + other.sum}

    def as_dict(self) -> dict:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.sum}


class WorkerMetrics:
    """Filled from the worker's event loop (checks) and control thread (applies), written by its
    status thread: one lock, held for a few additions or one copy."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.check_latency = Histogram(LATENCY_BUCKETS)
        # Filled by the connect scanner's thread alone, without the lock (checks.scanner: the
        # quiet passes, nearly every check), and added to check_latency when published.
        self.quiet_latency = Histogram(LATENCY_BUCKETS)
        self.transitions = {"up": 0, "down": 0}
        self.applies = {"ok": 0, "error": 0}
        self.apply_duration = Histogram(APPLY_BUCKETS)
        self.names_for: LvsConfig | None = None

    def observe_check(self, latency: float, became_up: bool | None, servers: int = 1) -> None:
        """One check's result; became_up is None when it changed nothing, else it took
        `servers` real servers (those sharing the check) up or down."""
        with self.lock:
            self.check_latency.observe(max(latency, 0.0))
            if became_up is not None:
                self.transitions["up" if became_up else "down"] += servers

    def observe_passed(self, latencies: list[float]) -> None:
        """Checks that passed and changed nothing, taken together: one lock for a batch."""
        observe = self.check_latency.observe
        with self.lock:
            for latency in latencies:
                observe(max(latency, 0.0))

    def observe_apply(self, seconds: float, ok: bool) -> None:
        with self.lock:
            self.applies["ok" if ok else "error"] += 1
            self.apply_duration.observe(seconds)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "check_latency": self.check_latency.plus(self.quiet_latency),
                "transitions": dict(self.transitions),
                "applies": dict(self.applies),
                "apply_duration": self.apply_duration.as_dict(),
            }

    def publish(self, state_path: Path, config: LvsConfig | None, kernel: bool) -> None:
        """Write the metrics file (every heartbeat) and the names file (on a new configuration).
        kernel: read the real kernel's global counters (not with the memory driver)."""
        data = self.snapshot()
        data["ipvs"] = read_ipvs_stats() if kernel else None
        write_json(sibling(state_path, ".metrics"), data)
        if config is not None and config is not self.names_for:
            write_json(sibling(state_path, ".names"), {"names": real_server_names(config)})
            self.names_for = config


def traffic_rows(table: TrafficTable, names: Mapping[ServiceKey, str]) -> list[list]:
    """A traffic read's counters as the .traffic file carries them: per service, [label as
    ipvsadm names it, virtual server ("" for one made by hand), its five totals (Traffic's
    order), [[address, port, five totals], ...] of its destinations]."""
    return [
        [
            key.label(),
            names.get(key, ""),
            *table[key].totals,
            [[*dkey, *counters] for dkey, counters in sorted(table[key].destinations.items())],
        ]
        for key in sorted(table)
    ]


def publish_traffic(state_path: Path, table: TrafficTable, names: Mapping[ServiceKey, str]) -> None:
    write_json(sibling(state_path, ".traffic"), {"services": traffic_rows(table, names)})


def sibling(state_path: Path, suffix: str) -> Path:
    return state_path.with_name(state_path.name + suffix)


def write_json(path: Path, data: dict) -> None:
    # The worker runs as root with umask 0027: without the mode and the state directory's group,
    # the web's user (that group) could not read the file.
    write_atomically(
        path, json.dumps(data, separators=(",", ":")), mode=0o640, group_of=path.parent
    )


def read_json(path: Path) -> dict:
    """The file's object, or {} when it is missing or unreadable (no worker yet)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def name_key(address: str, port: int) -> str:
    return f"{address} {port}"


def real_server_names(config: LvsConfig) -> dict[str, dict[str, str]]:
    """Each real server's name by virtual server, then by name_key(address, port): keyed as the
    health rows and the table know it."""
    names: dict[str, dict[str, str]] = {}
    for virtual in config.virtuals:
        port = virtual.effective_port
        servers = names.setdefault(virtual.name, {})
        for server in virtual.servers:
            servers.setdefault(
                name_key(server.address or "0.0.0.0", server.port or port), server.name
            )
    return names


def read_ipvs_stats(path: str | None = None) -> dict[str, int] | None:
    """The kernel's totals since IPVS was loaded (hexadecimal numbers on the third line of the
    file); None without IPVS."""
    try:
        with open(path or PROC_IPVS_STATS) as handle:
            lines = handle.read().splitlines()
        values = [int(field, 16) for field in lines[2].split()]
    except (OSError, IndexError, ValueError):
        return None
    if len(values) < len(IPVS_STATS_FIELDS):
        return None
    return dict(zip(IPVS_STATS_FIELDS, values, strict=False))
