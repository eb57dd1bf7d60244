"""`manage.py vrrp`: keepalived's side of two directors, for `make run` and systemd.

    vrrp --enabled            exit 0 when the published lvs.cf has backup_active = 1 with a backup
                              address (keepalived must run), 1 otherwise
    vrrp --exec-keepalived    wait for the configuration the worker writes, then become keepalived
                              (VRRP only, in the foreground, with lvsadmin's paths)
    vrrp --role               print this director's role file

A missing keepalived binary with redundancy on is an error here (exit 2) and on CONTROL, never a
silent single director.
"""

from __future__ import annotations

import os
import shutil
import time

from django.core.management.base import BaseCommand, CommandError

from monitoring.publish import revisions as publish
from monitoring.redundancy import keepalived
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.role import read_role
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse


def redundancy_published() -> bool:
    _label, text = publish.published_text()
    try:
        config, _warnings = parse(text)
    except LvsConfError:
        return False
    return config.redundant


class Command(BaseCommand):
    help = "keepalived (VRRP) for two directors: is it wanted, run it, show the role."

    def add_arguments(self, parser) -> None:
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--enabled", action="store_true")
        what.add_argument("--exec-keepalived", action="store_true")
        what.add_argument("--role", action="store_true")
        parser.add_argument(
            "--wait", type=float, default=60.0, help="seconds to wait for keepalived.conf"
        )

    def handle(self, *args, **options) -> None:
        if options["role"]:
            role = read_role(redundancy().role_file)
            self.stdout.write(role.to_json())
            return
        on = redundancy_published()
        if options["enabled"]:
            if not on:
                raise SystemExit(1)
            if shutil.which(redundancy().keepalived) is None:
                raise CommandError(self._missing(), returncode=2)
            return
        if not on:
            raise CommandError("backup_active is 0 (or no backup address): no keepalived needed")
        self.exec_keepalived(options["wait"])

    def _missing(self) -> str:
        return (
            f"backup_active = 1 but keepalived ({redundancy().keepalived}) is not installed:"
            " install Debian's keepalived package (scripts/install-system-deps.sh)"
        )

    def exec_keepalived(self, wait: float) -> None:
        binary = shutil.which(redundancy().keepalived)
        if binary is None:
            raise CommandError(self._missing(), returncode=2)
        conf = redundancy().keepalived_conf
        deadline = time.monotonic() + wait
        # The worker writes the configuration (it knows which director this is from the
        # addresses on its interfaces).
        while not keepalived.configured(conf):
            if time.monotonic() > deadline:
                raise CommandError(
                    f"no VRRP configuration in {conf} after {wait:g} s: is the worker running? "
                    "(CONTROL/MONITORING says why it cannot write it)"
                )
            time.sleep(0.5)
        pid_file = redundancy().keepalived_pid
        # FAULT until the worker has loaded the IPVS table: after a reboot keepalived is up long
        # before the worker, and must not take the VIPs to an empty table meanwhile.
        keepalived.before_start(pid_file, redundancy().ready_file)
        os.execv(binary, keepalived.command(binary, conf, pid_file))
