"""`manage.py apitoken USER`: print USER's API token, made if they have none; `--rotate` replaces
it, `--revoke` deletes it. Recorded in the audit trail as the OS user who ran it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token

from monitoring.api.auth import issue_token, revoke_token


class Command(BaseCommand):
    help = "Print a user's API token (made if missing); --rotate replaces it, --revoke deletes it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--rotate", action="store_true", help="replace the token with a new one")
        what.add_argument("--revoke", action="store_true", help="delete the token")

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: options["username"]}).first()
        if user is None:
            raise CommandError(f"there is no user named {options['username']!r}.")
        if options["revoke"]:
            revoked = revoke_token(user)
            self.stderr.write(
                f"Token of {options['username']} " + ("revoked." if revoked else "did not exist.")
            )
            return
        token = None if options["rotate"] else Token.objects.filter(user=user).first()
        token = token or issue_token(user)
        # The key alone on standard output, so that a script can capture it.
        self.stdout.write(token.key)
