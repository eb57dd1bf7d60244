"""A process left with a given number of free file descriptors, for tests of what a component
does when it cannot open a socket."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def descriptors_left(count: int) -> Iterator[None]:
    """Every descriptor below a limit taken and RLIMIT_NOFILE set `count` above it: the next
    `count` opens succeed, the ones after fail with EMFILE. Restored on the way out."""
    limit = max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    held = []
    while (fd := os.open(os.devnull, os.O_RDONLY)) < limit:
        held.append(fd)
    os.close(fd)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit + count, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for fd in held:
            os.close(fd)
