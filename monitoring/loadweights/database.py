"""The load figure of a MySQL/MariaDB real server, read on the built-in MySQL check's connection.

nanny's formula wants a 1-minute load where 1 means "exactly busy". For a database the useful
figures are its own, read on the connection the check has already logged in with:

- `Threads_running` (SHOW GLOBAL STATUS): the statements executing at this moment, the
  database's run queue. The check's own statement is one of them, so it is not counted;
- where the server is a replica (SHOW REPLICA STATUS, or SHOW SLAVE STATUS before MariaDB 10.5
  and MySQL 8.0.22, answers a row), `Seconds_Behind_Master` (`_Source` on MySQL): a replica that
  lags serves stale reads, and its SQL thread is already busy catching up.

The rule: load = (Threads_running - 1) + seconds behind / LAG_SECONDS_PER_LOAD. One other
statement running is a load of 1 (the weight stays), none is 0 (the weight rises), a long report
and three more running is 4 (the weight falls); ten seconds behind counts as one more statement.
Replication that is stopped (a NULL delay) adds nothing: whether a stopped replica should serve
is the health check's question (its query can ask it). A monitoring account without the
REPLICATION CLIENT (MariaDB: SLAVE MONITOR) privilege sees no replica status: only its
Threads_running counts, and the reading says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

LAG_SECONDS_PER_LOAD = 10.0
# The columns a replica's delay is in: MariaDB and MySQL before 8.0.22, then MySQL's new name.
_DELAY_COLUMNS = ("Seconds_Behind_Master", "Seconds_Behind_Source")


class Cursor(Protocol):
    description: Any

    def execute(self, query: str) -> Any: ...
    def fetchone(self) -> Any: ...


@dataclass(frozen=True)
class DatabaseLoad:
    threads_running: int
    behind: int | None = None  # seconds; None: not a replica, or its delay is unknown
    note: str = ""

    @property
    def load(self) -> float:
        return database_load(self.threads_running, self.behind)

    def describe(self) -> str:
        text = f"{max(self.threads_running - 1, 0)} other statements running"
        if self.behind is not None:
            text += f", {self.behind} s behind its primary"
        return f"{text} ({self.note})" if self.note else text


def database_load(threads_running: int, behind: int | None = None) -> float:
    """The documented rule (module docstring)."""
    load = float(max(threads_running - 1, 0))
    if behind is not None and behind > 0:
        load += behind / LAG_SECONDS_PER_LOAD
    return load


def read_database_load(cursor: Cursor, errors: tuple[type[BaseException], ...]) -> DatabaseLoad:
    """Read the figures on an open, logged-in cursor (PyMySQL's). `errors` are the driver's
    exception classes: a refused replica status is noted, a refused Threads_running raises."""
    cursor.execute("SHOW GLOBAL STATUS LIKE 'Threads_running'")
    row = cursor.fetchone()
    running = int(row[1]) if row else 1
    replica: dict[str, object] | None = None
    note = ""
    for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
        try:
            cursor.execute(statement)
        except errors as exc:
            code = exc.args[0] if exc.args else 0
            if code in (1227, 1045, 1142):  # access denied: no privilege to see it
                note = "no privilege to read the replica status"
                break
            continue  # a server that does not know this spelling
        row = cursor.fetchone()
        if row is not None and cursor.description:
            replica = dict(zip([d[0] for d in cursor.description], row, strict=False))
        break
    behind = None
    if replica is not None:
        for column in _DELAY_COLUMNS:
            value = replica.get(column)
            if value is not None:
                behind = int(value)  # type: ignore[call-overload]
                break
    return DatabaseLoad(running, behind, note)
