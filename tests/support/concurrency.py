"""Two (or more) writers at once, each on its own database connection."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from django.db import IntegrityError, OperationalError, connection, connections
from django.db.models import Model


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


class TableHook:
    """Acts on this thread's statements of one kind (INSERT, UPDATE) on one table: enter
    `hook()` in the thread whose connection it watches."""

    def __init__(self, model: type[Model]) -> None:
        self.table = model._meta.db_table

    def on_table(self, sql: str, verb: str) -> bool:
        # The table's name before the column list (INSERT) or the SET clause (UPDATE).
        head = sql.split("(")[0] if verb == "INSERT" else sql.split(" SET ")[0]
        return sql.startswith(verb) and self.table in head

    def _around(self, execute, sql, params, many, context):  # noqa: ANN001, ANN202
        raise NotImplementedError

    @contextlib.contextmanager
    def hook(self) -> Iterator[None]:
        with connection.execute_wrapper(self._around):
            yield


class InsertRace(TableHook):
    """Widens the race of two writers both inserting a one-row table's row, from microseconds
    to a second: each writer's insert of it waits for the other's (so both try it), and the
    loser's duplicate-key error reaches it a second late, while the winner goes on. Enter
    `InsertRace.hook()` in each writer's thread (it acts on that thread's connection)."""

    def __init__(self, model: type[Model], writers: int = 2) -> None:
        super().__init__(model)
        self.at_the_insert = threading.Barrier(writers)

    def _around(self, execute, sql, params, many, context):  # noqa: ANN001, ANN202
        if not self.on_table(sql, "INSERT"):
            return execute(sql, params, many, context)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.at_the_insert.wait(timeout=5)
        try:
            return execute(sql, params, many, context)
        except IntegrityError:
            time.sleep(1)  # the winner commits and starts its next write meanwhile
            raise


class DeadlockOnce(TableHook):
    """The database choosing this thread's first statements of a kind on a table as a deadlock's
    victim, as InnoDB does (error 1213, the transaction rolled back), `times` times over; each
    victim is counted in `victims`."""

    def __init__(self, model: type[Model], verb: str, times: int = 1) -> None:
        super().__init__(model)
        self.verb = verb
        self.left = times
        self.victims = 0

    def _around(self, execute, sql, params, many, context):  # noqa: ANN001, ANN202
        if self.left and self.on_table(sql, self.verb):
            self.left -= 1
            self.victims += 1
            raise OperationalError(
                1213, "Deadlock found when trying to get lock; try restarting transaction"
            )
        return execute(sql, params, many, context)
