"""The worker's load reads that are not part of a health check: the agent (every agent_inter
seconds) and uptime over ssh (every check interval, as nanny). The MySQL figures come with the
MySQL check itself (checks.probes). Runs on the worker's event loop; Django-free."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from monitoring.checks.programs import ProgramRefused, check_user_ids
from monitoring.loadweights.agent import ask_agent
from monitoring.loadweights.book import LoadBook, Target
from monitoring.loadweights.uptime import read_uptime, uptime_argv
from virtualservers.lvsconf.model import LvsConfig, RealServerRef

log = logging.getLogger("lvsadmin.worker")
# Agent and ssh reads at once, at most: an ssh is a process, an agent read a socket.
MAX_CONCURRENT_READS = 256
SSH = "/usr/bin/ssh"


class LoadReaders:
    def __init__(
        self,
        book: LoadBook,
        clock: Callable[[], float],
        ssh_config: str,
        ramping: Callable[[RealServerRef], bool] = lambda ref: False,
        changed: Callable[[], None] = lambda: None,
        ssh: str = SSH,
    ) -> None:
        self.book = book
        self.clock = clock
        self.ssh_config = ssh_config
        self.ssh = ssh
        self.ramping = ramping
        self.changed = changed  # told when a weight, hold or down state moved
        self.next_due: dict[RealServerRef, float] = {}
        self.running: set[RealServerRef] = set()
        self.ssh_allowed = False
        self.limit = asyncio.Semaphore(MAX_CONCURRENT_READS)

    def sync(self, config: LvsConfig) -> None:
        """A configuration is enforced: the book follows it, new servers are read at once."""
        found = self.book.sync(config)
        self.ssh_allowed = (config.rsh_command or "rsh") == "ssh"
        now = self.clock()
        self.next_due = {
            ref: self.next_due.get(ref, now)
            for ref, target in found.items()
            if target.monitor in ("agent", "uptime")
        }

    def due(self) -> list[RealServerRef]:
        now = self.clock()
        return [
            ref for ref, when in self.next_due.items() if when <= now and ref not in self.running
        ]

    def start_due(self, tasks: set[asyncio.Task]) -> int:
        due = self.due()
        loop = asyncio.get_running_loop()
        for ref in due:
            self.running.add(ref)
            task = loop.create_task(self.read(ref))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return len(due)

    async def read(self, ref: RealServerRef) -> None:
        target = self.book.target(ref)
        try:
            if target is None:
                return
            async with self.limit:
                if target.monitor == "agent":
                    await self._agent(ref, target)
                else:
                    await self._uptime(ref, target)
        except Exception as exc:  # a bug in one read must not stop the others
            log.exception("load read of %s:%s raised", ref.address, ref.port)
            self.book.record_load(ref, None, f"load read failed: {exc}")
        finally:
            self.running.discard(ref)
            if ref in self.next_due and target is not None:
                self.next_due[ref] = self.clock() + target.interval

    async def _agent(self, ref: RealServerRef, target: Target) -> None:
        assert target.port is not None
        reply = await ask_agent(ref.address, target.port, timeout=target.interval)
        if self.book.record_agent(ref, reply):
            self.changed()

    async def _uptime(self, ref: RealServerRef, target: Target) -> None:
        if not self.ssh_allowed:
            self.book.record_load(ref, None, "uptime needs rsh_command = ssh (rsh is refused)")
            return
        try:
            user, group = check_user_ids()
        except ProgramRefused as refused:
            self.book.record_load(ref, None, str(refused))
            return
        argv = uptime_argv(self.ssh, self.ssh_config, ref.address, target.interval)
        reading = await read_uptime(argv, target.interval, user, group)
        changed = self.book.record_load(
            ref, reading.load, reading.error or "uptime", self.ramping(ref)
        )
        if changed is not None:
            self.changed()
