"""The worker (replaces pulse, lvsd and nanny): the one writer of the kernel table."""

from monitoring.worker.loop import Worker

__all__ = ["Worker"]
