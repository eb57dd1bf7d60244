"""`manage.py applylvs`: one apply of the published lvs.cf (or any Piranha file) to the kernel.

Safe from cron next to the worker (they share a lock). Needs no database: with --config it reads
only the file, so a Piranha user can swap the daemons and keep the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.ipvs.drivers import DriverError, MemoryDriver, get_driver
from monitoring.ipvs.engine import ApplyBusy, apply
from virtualservers.lvsconf.files import LvsConfFileError, read_lvs_cf
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse


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

    def handle(self, *args, **options) -> None:
        path = Path(options["config"] or settings.LVSADMIN_LVS_CF)
        state = Path(options["state"] or settings.LVSADMIN_APPLY_STATE)
        try:
            text = read_lvs_cf(path)
        except LvsConfFileError as exc:
            raise CommandError(f"{path}: {exc}") from None
        try:
            config, warnings = parse(text)
        except LvsConfError as exc:
            raise CommandError(f"{path}: {exc}") from None
        for warning in warnings:
            self.stderr.write(f"{path}: {warning}")

        dry_run = options["dry_run"]
        note = ""
        try:
            driver = get_driver(options["driver"] or settings.LVSADMIN_IPVS_DRIVER)
        except DriverError as exc:
            if not dry_run:
                raise CommandError(self._why(exc)) from None
            # A dry run still shows what it would do, from an empty table.
            driver, note = (
                MemoryDriver(),
                f"(the kernel table cannot be read: {self._why(exc)}; operations are shown from an empty table)",
            )
        try:
            result = apply(
                config, driver, state, dry_run=dry_run, arp_count=0 if options["no_arp"] else 5
            )
        except ApplyBusy as exc:
            raise CommandError(str(exc)) from None
        except DriverError as exc:
            raise CommandError(self._why(exc)) from None
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if dry_run:
            if note:
                self.stdout.write(note)
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
            return
        # Announcements of new VIPs are in flight; let them finish before the process exits.
        for thread in result.arp_threads:
            thread.join(timeout=10)
        if result.error:
            raise CommandError(f"apply stopped: {result.error}; nothing after it was changed")
        self.stdout.write(result.summary())

    @staticmethod
    def _why(exc: DriverError) -> str:
        if os.geteuid() != 0 and "root" not in str(exc):
            return f"{exc} (applylvs needs root to change the IPVS table)"
        return str(exc)
