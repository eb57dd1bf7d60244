"""`manage.py applylvs`: one converge of the kernel to the published lvs.cf (or any Piranha file).

There is one writer of the kernel table. While a worker runs, applylvs never writes: it asks the
worker to converge now (health included, so a real server health took out stays out) and prints
the worker's answer; `--dry-run` shows what the worker would change. Without a live worker it
applies the file itself, and says that health was not consulted. It needs no database: with
--config it reads only the file, so a Piranha user can swap the daemons and keep the file.

Exit codes (monitoring/management/exitcodes.py, shared with importlvscf; in the README): 0 converged; 2 usage; 3 the file is bad (the line is
named); 4 no IPVS in this kernel, or not root; 5 the kernel refused an operation (named); 6 busy:
another apply holds the lock, or the live worker did not answer in time, or --config names
another file while a worker enforces the published one; 7 (--watchdog) no worker is running.

`--watchdog` is the cron job's (lvsadmin/deploy/lvsadmin-watchdog.cron): with a live worker it
asks for a converge as above (a no-op when the table is right, health included); without one it
changes nothing and exits 7 with one line, which cron mails.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from monitoring.ipvs.converge import ApplyBusy, ApplyResult, apply
from monitoring.ipvs.coordination import (
    WorkerPresence,
    read_view_down,
    read_view_held,
    request_converge,
)
from monitoring.ipvs.drivers import get_driver
from monitoring.ipvs.drivers.base import DriverError
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.live.states import held_now
from monitoring.management.exitcodes import (
    EXIT_BAD_FILE,
    EXIT_BUSY,
    EXIT_NO_KERNEL,
    EXIT_NO_WORKER,
    EXIT_REFUSED,
)
from monitoring.worker import conf as worker_conf
from virtualservers.conf import lvs_cf
from virtualservers.lvsconf.files import LvsConfFileError, read_lvs_cf
from virtualservers.lvsconf.model import LvsConfError, LvsConfig
from virtualservers.lvsconf.parse import parse

WORKER_ANSWER_SECONDS = 30.0


def _held_if_known() -> dict:
    """The runtime states (drain, maintenance) in the database; none when there is no database
    (applylvs works without one: it never makes an SQLite file that is not there)."""
    database = connection.settings_dict
    if connection.vendor == "sqlite" and not Path(str(database["NAME"])).exists():
        return {}
    try:
        return held_now()
    except DatabaseError:
        return {}


class Command(BaseCommand):
    help = (
        "Converge the IPVS table, VIPs and NAT router to the published lvs.cf (or --config FILE)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--config", help="an lvs.cf to apply instead of the published one")
        parser.add_argument(
            "--state", help="the apply state file (services and VIPs this tool owns)"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the operations in ipvsadm syntax; change nothing",
        )
        parser.add_argument(
            "--driver",
            choices=["netlink", "memory"],
            help="default: the LVSADMIN_IPVS_DRIVER setting",
        )
        parser.add_argument(
            "--no-arp", action="store_true", help="do not send gratuitous ARPs for VIPs added"
        )
        parser.add_argument(
            "--watchdog",
            action="store_true",
            help="ask the running worker to converge; without one, change nothing and exit 7",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=WORKER_ANSWER_SECONDS,
            help="seconds to wait for a running worker's answer (default %(default)s)",
        )

    def handle(self, *args, **options) -> None:
        published = lvs_cf()
        path = Path(options["config"] or published)
        state = Path(options["state"] or worker_conf.worker().apply_state)
        config = self._read(path)
        dry_run = options["dry_run"]
        worker = WorkerPresence.alive(state)
        if options["watchdog"] and not worker:
            # The watchdog never writes the table itself: without health checks it would put
            # back every real server that health took out.
            raise CommandError(
                f"no worker is running (no lock on {state}.worker): health checks and drift "
                "repair are stopped; start it (systemctl start lvsadmin-worker). Nothing changed.",
                returncode=EXIT_NO_WORKER,
            )
        if worker and not dry_run:
            if options["config"] and path.resolve() != published.resolve():
                raise CommandError(
                    f"a worker is running and enforces the published configuration, not {path}: "
                    "import and apply the file from the GUI, or stop the worker first",
                    returncode=EXIT_BUSY,
                )
            self._ask_worker(state, options["wait"])
            return
        down = read_view_down(state) if worker else frozenset()
        if worker:
            held = read_view_held(state)
        else:  # --config: a file of its own, perhaps a bare Piranha one with no database
            held = {} if options["config"] else _held_if_known()
        driver, note = self._driver(options["driver"], dry_run)
        try:
            result = apply(
                config,
                driver,
                state,
                down=down,
                held=held,
                dry_run=dry_run,
                arp_count=0 if options["no_arp"] else 5,
                # The running worker's path-check services are its own, not a change to show.
                keep_path_services=worker,
            )
        except ApplyBusy as exc:
            raise CommandError(str(exc), returncode=EXIT_BUSY) from None
        except DriverError as exc:
            raise CommandError(self._why(exc), returncode=EXIT_NO_KERNEL) from None
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if dry_run:
            self._print_dry_run(result, note, config, down, worker)
            return
        # Announcements of new VIPs are in flight; let them finish before the process exits.
        for thread in result.arp_threads:
            thread.join(timeout=10)
        if result.error:
            raise CommandError(
                f"apply stopped: {result.error}; nothing after it was changed",
                returncode=EXIT_REFUSED,
            )
        self.stdout.write(result.summary())
        self.stderr.write(
            "note: no worker is running, so health was not consulted: every active real server "
            "of the file is in the table until a worker checks them"
        )

    def _read(self, path: Path) -> LvsConfig:
        try:
            text = read_lvs_cf(path)
        except LvsConfFileError as exc:
            raise CommandError(f"{path}: {exc}", returncode=EXIT_BAD_FILE) from None
        try:
            config, warnings = parse(text)
        except LvsConfError as exc:
            raise CommandError(f"{path}: {exc}", returncode=EXIT_BAD_FILE) from None
        for warning in warnings:
            self.stderr.write(f"{path}: {warning}")
        return config

    def _driver(self, name: str | None, dry_run: bool):
        try:
            return get_driver(name or worker_conf.worker().ipvs_driver), ""
        except DriverError as exc:
            if not dry_run:
                raise CommandError(self._why(exc), returncode=EXIT_NO_KERNEL) from None
            # A dry run still shows what it would do, from an empty table.
            return MemoryDriver(), (
                f"(the kernel table cannot be read: {self._why(exc)}; operations are shown from an empty table)"
            )

    def _ask_worker(self, state: Path, wait: float) -> None:
        answer = request_converge(state, wait)
        if answer is None:
            raise CommandError(
                f"the running worker did not answer within {wait:.0f} s; it converges on its own "
                "schedule (LVSADMIN_DRIFT_REPAIR_SECONDS)",
                returncode=EXIT_BUSY,
            )
        if not answer.ok:
            raise CommandError(
                f"the worker could not converge: {answer.error}", returncode=EXIT_REFUSED
            )
        self.stdout.write(f"the running worker converged (health included): {answer.summary}")

    def _print_dry_run(
        self, result: ApplyResult, note: str, config: LvsConfig, down, worker: bool
    ) -> None:
        if note:
            self.stdout.write(note)
        if worker:
            self.stdout.write(
                f"(a worker is running: operations are computed with the {len(down)} real "
                "server(s) its health checks took out)"
            )
        for op in result.ops:
            self.stdout.write(f"ipvsadm {op.to_ipvsadm()}")
        for vip in result.vips_added:
            self.stdout.write(
                f"ip addr add {vip.address}/{vip.prefixlen} dev {vip.device} label {vip.label}"
            )
        for vip in result.vips_removed:
            self.stdout.write(f"ip addr del {vip.address}/{vip.prefixlen} dev {vip.device}")
        if result.timeouts_set:
            self.stdout.write("ipvsadm --set {} {} {}".format(*result.timeouts_set))
        self.stdout.write(f"dry run: {result.summary()}")

    @staticmethod
    def _why(exc: DriverError) -> str:
        if os.geteuid() != 0 and "root" not in str(exc):
            return f"{exc} (applylvs needs root to change the IPVS table)"
        return str(exc)
