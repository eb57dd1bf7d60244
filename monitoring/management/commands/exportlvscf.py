"""`manage.py exportlvscf`: print the draft as an lvs.cf (what Apply would publish)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from monitoring.publish.draft import draft_config
from virtualservers.lvsconf.render import render


class Command(BaseCommand):
    help = "Print the draft configuration as a Piranha lvs.cf."

    def handle(self, *args, **options) -> None:
        self.stdout.write(render(draft_config()), ending="")
