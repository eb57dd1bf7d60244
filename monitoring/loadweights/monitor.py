"""The load monitor as the worker holds it: the book, the reads, and how load weights join slow
start's on their way to the one writer. Django-free (the worker hands it its settings).

The desired table overrides a real server's configured weight with the one dictionary the writer
asks for at each apply (KernelWriter.ramp): slow start's weights win over the load's, so no load
weight is written while a ramp is under way, and a held state (drain, maintenance: an
operator's, else an agent's) wins over both (ipvs.table.desired_state). Each change is one weight
edit, one netlink message (written.py diffs against what it last wrote).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from monitoring.checks.probes import ProbeResult
from monitoring.checks.slowstart import SlowStart
from monitoring.live.holds import Held
from monitoring.loadweights.book import LoadBook
from monitoring.loadweights.readers import LoadReaders
from monitoring.loadweights.shown import publish_rows
from virtualservers.lvsconf.model import LvsConfig, RealServerRef


class LoadMonitor:
    def __init__(self, clock: Callable[[], float], slow_start: SlowStart, ssh_config: str) -> None:
        self.book = LoadBook(clock)
        self.slow_start = slow_start
        self.readers = LoadReaders(self.book, clock, ssh_config, ramping=self.ramping)
        self.published: list[dict] | None = None

    def ramping(self, ref: RealServerRef) -> bool:
        return ref in self.slow_start.weights()

    def weights(self) -> dict[RealServerRef, int]:
        """What the writer writes instead of configured weights: slow start's over the load's."""
        return {**self.book.weights(), **self.slow_start.weights()}

    def held(self) -> Held:
        return self.book.held()

    def down(self) -> frozenset[RealServerRef]:
        return self.book.down()

    def sync(self, config: LvsConfig) -> None:
        self.readers.sync(config)

    def start_due(self, tasks: set[asyncio.Task]) -> int:
        return self.readers.start_due(tasks)

    def checked(self, ref: RealServerRef, result: ProbeResult) -> None:
        """A health check's result: the MySQL check brings the load figures with it."""
        if result.load is not None:
            target = self.book.target(ref)
            if target is not None and target.monitor == "mysql":
                what = f"mysql: {result.load.describe()}"
                self.book.record_load(ref, result.load.load, what, self.ramping(ref))

    def moved(self, ref: RealServerRef) -> None:
        """Health took `ref` out or brought it back: its load weight starts again."""
        self.book.reset(ref)

    def publish(self, state_path: Path) -> bool:
        """Rewrite the file CONTROL and /metrics read when a row changed (status thread)."""
        rows = self.book.rows()
        if rows == self.published:
            return False
        publish_rows(state_path, rows)
        self.published = rows
        return True
