"""`manage.py realserver drain|maintenance|return VIRTUAL/REAL`, and `realserver list`: the
GUI's Drain, Maintenance and Return buttons for scripts. `realserver setup NAME [--format
script|unit|sql] [--arp sysctl|arptables|nftables]` prints a real server's set-up (the Set up
page's texts, from the published lvs.cf; NAME as there, or VIRTUAL/REAL).

REAL is the real server's name in the published lvs.cf, or its ADDRESS[:PORT]. The command runs
as an OS account on the director, outside Django's roles, and is recorded as `<os user> (shell)`
like importlvscf. With `--user NAME` it acts as that lvsadmin user instead: refused unless the
user's role may drain (operator or administrator), and recorded under that name.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from monitoring.live import states as runtime
from monitoring.models import RealServerRuntimeState
from realservers.setup import command as setup


class Command(BaseCommand):
    help = "Drain a real server, put it in maintenance or return it; or list the held ones."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=[*runtime.ACTIONS, "list", "setup"])
        parser.add_argument(
            "server", nargs="?", help="VIRTUAL/REAL: REAL is a name or ADDRESS[:PORT]"
        )
        parser.add_argument(
            "--user", help="act as this lvsadmin user (its role must allow draining)"
        )
        setup.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["action"] == "setup":
            self.stdout.write(setup.handle(options), ending="")
            return
        if options["action"] == "list":
            for row in RealServerRuntimeState.objects.order_by("virtual_name", "address", "port"):
                self.stdout.write(
                    f"{row.virtual_name}/{row.address}:{row.port} {row.state} "
                    f"since {row.since:%Y-%m-%d %H:%M:%S} by {row.set_by}"
                )
            return
        if not options["server"]:
            raise CommandError("name the real server: VIRTUAL/REAL")
        user = None
        if options["user"]:
            try:
                user = get_user_model().objects.get_by_natural_key(options["user"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no lvsadmin user {options['user']!r}") from None
        try:
            ref = runtime.resolve(options["server"])
            change = runtime.set_state(ref, options["action"], user, "local")
        except (runtime.StateRefused, PermissionDenied) as exc:
            raise CommandError(str(exc)) from None
        state = change.new.value if change.new else "normal"
        if change.changed:
            self.stdout.write(
                f"{runtime.label(ref)}: {state} (the worker applies it within a second)"
            )
        else:
            self.stdout.write(f"{runtime.label(ref)}: already {state}")
