"""The MySQL load rule on plain numbers, and its reading on a fake cursor (the real MariaDB
reading is in tests/monitoring/checks/test_probes_mysql.py and the VM lab)."""

import pytest

from monitoring.loadweights.database import DatabaseLoad, database_load, read_database_load


def test_the_checks_own_statement_is_not_counted():
    assert database_load(1) == 0.0
    assert database_load(2) == 1.0
    assert database_load(5) == 4.0
    assert database_load(0) == 0.0


def test_ten_seconds_behind_counts_as_one_more_statement():
    assert database_load(1, 30) == 3.0
    assert database_load(3, 5) == 2.5
    assert database_load(1, None) == 0.0


class RefusedError(Exception):
    pass


class FakeCursor:
    def __init__(self, running: int, replica: dict | None, refuse: int | None = None) -> None:
        self.running, self.replica, self.refuse = running, replica, refuse
        self.description = None
        self.row = None
        self.statements: list[str] = []

    def execute(self, query: str) -> None:
        self.statements.append(query)
        if query.startswith("SHOW GLOBAL STATUS"):
            self.row, self.description = ("Threads_running", str(self.running)), None
        elif self.refuse is not None:
            raise RefusedError(self.refuse, "Access denied; you need the REPLICATION CLIENT")
        elif query == "SHOW REPLICA STATUS" and self.replica is None:
            raise RefusedError(1064, "You have an error in your SQL syntax")
        else:
            replica = self.replica or {}
            self.description = [(name,) for name in replica] or None
            self.row = tuple(replica.values()) or None

    def fetchone(self):
        return self.row


def test_a_primary_reads_its_running_threads_only():
    cursor = FakeCursor(4, None)
    load = read_database_load(cursor, (RefusedError,))
    assert load == DatabaseLoad(4, None)
    assert load.load == 3.0
    # An older server that does not know SHOW REPLICA STATUS is asked the old way.
    assert cursor.statements[-1] == "SHOW SLAVE STATUS"


@pytest.mark.parametrize("column", ["Seconds_Behind_Master", "Seconds_Behind_Source"])
def test_a_replica_adds_its_delay(column):
    load = read_database_load(FakeCursor(1, {"Slave_IO_State": "x", column: 20}), (RefusedError,))
    assert (load.behind, load.load) == (20, 2.0)
    assert load.describe() == "0 other statements running, 20 s behind its primary"


def test_a_stopped_replica_adds_nothing():
    load = read_database_load(FakeCursor(2, {"Seconds_Behind_Master": None}), (RefusedError,))
    assert (load.behind, load.load) == (None, 1.0)


def test_no_privilege_for_the_replica_status_is_noted_not_fatal():
    load = read_database_load(FakeCursor(3, None, refuse=1227), (RefusedError,))
    assert load.load == 2.0
    assert load.describe() == (
        "2 other statements running (no privilege to read the replica status)"
    )
