"""`manage.py lvspasswd`: set the password of the GUI user `piranha` (created if missing).

The password comes from a prompt (asked twice) or, when standard input is not a terminal, from
its first line. Never from the command line, where `ps` and shell history would show it (what
piranha-passwd warned about). There is no default password anywhere.
"""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

USERNAME = "piranha"


class Command(BaseCommand):
    help = "Set the password of the lvsadmin user 'piranha' (read from a prompt or standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="exit 0 if piranha has a usable password, 1 otherwise",
        )
        # Anything else on the command line is refused: a password there would leak.
        parser.add_argument("stray", nargs="*", help=_hidden())

    def handle(self, *args, **options) -> None:
        if options["stray"]:
            raise CommandError(
                "lvspasswd takes no password on the command line (it would show in ps and shell history); type it at the prompt or pipe it on standard input"
            )
        User = get_user_model()
        user = User.objects.filter(username=USERNAME).first()
        if options["check"]:
            if user is None or not user.has_usable_password():
                raise CommandError(f"no password is set for {USERNAME}", returncode=1)
            self.stdout.write(f"{USERNAME} has a password")
            return
        password = self._read_password()
        candidate = user or User(username=USERNAME)
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from None
        if user is None:
            # The one administrator also uses /admin/ for bulk edits.
            user = User.objects.create_user(
                USERNAME, password=password, is_staff=True, is_superuser=True
            )
            self.stdout.write(f"created user {USERNAME} with the new password")
        else:
            user.set_password(password)
            user.is_active = True
            user.save()
            self.stdout.write(f"password of {USERNAME} changed")

    def _read_password(self) -> str:
        if not sys.stdin.isatty():
            line = sys.stdin.readline()
            password = line.rstrip("\r\n")
            if not password:
                raise CommandError("no password on standard input")
            return password
        first = getpass.getpass(f"New password for {USERNAME}: ")
        second = getpass.getpass("Again: ")
        if first != second:
            raise CommandError("the two passwords differ; nothing changed")
        if not first:
            raise CommandError("an empty password is not allowed")
        return first


def _hidden() -> str:
    return "refused: never put a password on the command line"
