"""`manage.py lvsworker`: the long-running worker (health checks + IPVS apply + live status)."""

from __future__ import annotations

import asyncio
import logging

from django.core.management.base import BaseCommand

from monitoring.peersync.mirror import FollowThread
from monitoring.worker.loop import Worker


class Command(BaseCommand):
    help = (
        "Check every active real server and keep the IPVS table in line with the published lvs.cf."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="one pass of every check, apply, report, exit"
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
        logging.getLogger("lvsadmin").setLevel(logging.INFO)
        worker = Worker(options["driver"], arp_count=0 if options["no_arp"] else 5)
        # While this director is the standby, the thread stores the active director's revisions,
        # which the worker picks up like any Apply; told at once, it does not wait for its poll.
        follow = None if options["once"] else FollowThread(on_adopted=worker.reread_config)
        if follow is not None:
            follow.start()
        try:
            asyncio.run(worker.run(once=options["once"]))
        finally:
            if follow is not None:
                follow.stop()
                follow.join(timeout=5)
