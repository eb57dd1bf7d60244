"""`manage.py importlvscf FILE [--dry-run] [-v 2]`: load an lvs.cf into the draft, in one transaction.

A file the stock parser would refuse changes nothing and the error names its line; so does a
value the models refuse (naming the virtual, real server and field). Either exits 3, as applylvs
does for a bad file (monitoring/management/exitcodes.py).
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from monitoring.management.exitcodes import EXIT_BAD_FILE
from monitoring.publish import audit
from monitoring.publish.draft import NAMES_SHOWN, replace_draft
from virtualservers.lvsconf.files import LvsConfFileError, read_lvs_cf
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse


class Command(BaseCommand):
    help = "Load a Piranha lvs.cf into the draft (Apply publishes it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would change; change nothing"
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            text = read_lvs_cf(path)
        except LvsConfFileError as exc:
            raise CommandError(
                f"{path}: {exc}; nothing was imported", returncode=EXIT_BAD_FILE
            ) from None
        try:
            config, warnings = parse(text)
        except LvsConfError as exc:
            raise CommandError(
                f"{path}: {exc}; nothing was imported", returncode=EXIT_BAD_FILE
            ) from None
        for warning in warnings:
            self.stderr.write(f"{path}: {warning}")
        try:
            change = replace_draft(config, dry_run=options["dry_run"])
        except ValidationError as exc:
            raise CommandError(
                f"{path}: {'; '.join(exc.messages)}; nothing was imported", returncode=EXIT_BAD_FILE
            ) from None
        prefix = "would change" if options["dry_run"] else "imported"
        # How many of each kind, and the first names (every name with -v 2): 10,000 names on
        # one line buried the rest of the output.
        limit = None if options["verbosity"] >= 2 else NAMES_SHOWN
        for line in change.lines(limit=limit):
            self.stdout.write(f"{prefix}: {line}")
        if not options["dry_run"]:
            if not change.empty:
                # An import that changed nothing (the same file again) is no entry of the trail.
                actor = audit.current_actor()
                audit.record(
                    "import",
                    str(path),
                    summary=f"import of {path} by {actor.username}: " + "; ".join(change.lines()),
                )
            self.stdout.write(
                f"{path}: {len(config.virtuals)} virtual servers in the draft; Apply to publish"
            )
