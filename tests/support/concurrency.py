"""Two (or more) writers at once, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def at_once(*writers: Callable[[], object], timeout: float = 120) -> list[object]:
    """Run each writer in a thread of its own (Django gives every thread its own connection),
    all released together; return their results in order, or raise the first one's error."""
    start = threading.Barrier(len(writers))
    results: list[object] = [None] * len(writers)
    errors: list[BaseException] = []

    def run(index: int, writer: Callable[[], object]) -> None:
        try:
            start.wait()
            results[index] = writer()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), f"a writer still runs after {timeout} s"
    if errors:
        raise errors[0]
    return results
