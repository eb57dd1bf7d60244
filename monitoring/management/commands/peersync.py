"""`manage.py peersync`: ask the peer once, as the standby's follower does, and say whether its
configuration matches this director's; `--wait-serial N` waits until revision N is published
here (what a test or a script runs on the standby after publishing on the active director)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from monitoring.models import Revision
from monitoring.peersync import signing
from monitoring.peersync.follow import PeerClient, PeerError, same_content
from monitoring.peersync.mirror import DatabaseStore, peer_url, role, secret


class Command(BaseCommand):
    help = "Check the signed channel to the peer director and whether its configuration matches."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wait-serial",
            type=int,
            help="wait until this revision is published on this director (exit 1 on timeout)",
        )
        parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")

    def handle(self, *args, **options) -> None:
        if options["wait_serial"] is not None:
            self.wait(options["wait_serial"], options["timeout"])
            return
        info = role()
        url = peer_url(info)
        if not url:
            raise CommandError(f"this director is {info.role} and knows no peer")
        try:
            peer = PeerClient(url, secret()).fetch()
        except (signing.SecretError, PeerError) as exc:
            raise CommandError(f"{url}: {exc}") from None
        local = DatabaseStore(info.peer or url).latest()
        mine = f"serial {local.serial}" if local else "nothing published"
        if peer is None:
            self.stdout.write(f"{url} answers (signed): nothing published; here: {mine}")
            return
        theirs = f"serial {peer.serial} ({peer.digest[:12]})"
        if local is not None and same_content(local, peer):
            self.stdout.write(f"{url} answers (signed): {theirs}; here: {mine}: matches")
            return
        raise CommandError(f"{url} answers (signed): {theirs}; here: {mine}: differs")

    def wait(self, serial: int, timeout: float) -> None:
        started = time.monotonic()
        while (stored := Revision.objects.filter(serial_no=serial).first()) is None:
            if time.monotonic() - started > timeout:
                raise CommandError(f"serial {serial} is not published here after {timeout:g} s")
            time.sleep(0.05)
        # When it was stored, to compare with the active director's publish time (the two
        # directors' clocks agree under NTP; in the lab they are one kernel's).
        self.stdout.write(
            f"serial {serial} published here after {time.monotonic() - started:.3f} s "
            f"(stored at {stored.created_at.isoformat()})"
        )
