"""`manage.py realserver setup NAME`: the Set up page's texts on standard output. The command
itself lives with the other real server actions (monitoring's `realserver`); what it does is
here, so that its edit there stays two lines."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandError

from realservers.setup.plan import ARP_METHODS, FORMATS, SetupError, plan_for_real
from realservers.setup.published import default_arp_method, mysql_checks, published
from realservers.setup.render import render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS, default="script", help="setup: what to print (script)"
    )
    parser.add_argument(
        "--arp", choices=ARP_METHODS, help="setup: ARP suppression (GLOBAL SETTINGS' choice)"
    )


def handle(options: dict[str, Any]) -> str:
    name = options.get("server")
    if not name:
        raise CommandError("name the real server: NAME, VIRTUAL/REAL or its address")
    current = published()
    if current.config is None:
        raise CommandError(current.problem)
    try:
        plan = plan_for_real(
            current.config,
            name,
            arp=options.get("arp") or default_arp_method(),
            mysql_checks=mysql_checks(),
        )
        return render(plan, options.get("format") or "script")
    except SetupError as exc:
        raise CommandError(str(exc)) from None
