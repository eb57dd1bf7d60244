"""Giving the memory the worker freed back to the system.

The worker's steady state at 10,000 real servers is a few tens of MB of Python objects, but its
peaks are higher: a new configuration is parsed and converged beside the one it replaces, and
every status round builds the shown table's rows and 10,000 health rows. glibc keeps what those
peaks freed in its heap unless the free pages happen to sit at its top, so the resident size
stays at the peak. malloc_trim(0) hands every free page back (madvise), whatever its place:
4-6 MB of the worker's RSS at 1,000 x 10 (bench/bench_worker.py), for about 0.2 ms a call.

Not glibc (musl has no malloc_trim): nothing to do, and nothing fails.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked = False


def _malloc_trim() -> Callable[[int], int] | None:
    global _trim, _looked
    if not _looked:
        _looked = True
        try:
            _trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _trim = None
    return _trim


def give_back() -> bool:
    """Return the heap's free pages to the system; whether there was a malloc_trim to call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
