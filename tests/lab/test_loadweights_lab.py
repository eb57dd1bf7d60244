"""Weights that follow load against the real kernel: with `load_monitor = mysql`, a real MariaDB
kept busy by a few sleeping statements loses weight and regains it when idle, as the real
`ipvsadm -Ln` shows (README, "Weights that follow load")."""

from __future__ import annotations

import contextlib
import threading

import pymysql
import pytest

from scripts.testbed import lvscf
from scripts.testbed.topology import Topology, mysql_connect
from tests.lab.test_worker_lab import RS1, VIP, destinations, publish, wait_for, worker  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
RS2 = "192.0.2.242:3306"
WEIGHT = 10
BUSY = 4  # sleeping statements on rs1: Threads_running 5, a load of 4


def revision() -> str:
    servers = [
        lvscf.server("rs1", RS1.split(":")[0], weight=WEIGHT),
        lvscf.server("rs2", RS2.split(":")[0], weight=WEIGHT),
    ]
    text = lvscf.config(lvscf.virtual("mysql", address=VIP, port=3306, servers=servers))
    return text.replace(
        "     timeout = 6\n", "     timeout = 2\n     load_monitor = mysql\n"
    ).replace("     quiesce_server = 0\n", "     quiesce_server = 0\n     slow_start = 0\n")


def _sleep(connection) -> None:
    with connection.cursor() as cursor, contextlib.suppress(pymysql.MySQLError):
        cursor.execute("SELECT SLEEP(600)")


def test_a_busy_mariadb_loses_weight_and_regains_it_when_idle(
    topology: Topology,
    worker,  # noqa: F811
) -> None:
    instance, thread = worker
    publish(revision())
    thread.start()
    wait_for(lambda: set(destinations()) == {RS1, RS2}, 90, "the table")
    # Idle (only the check's own statement runs): each check raises the weight by W/2.
    wait_for(lambda: destinations().get(RS1, 0) >= 3 * WEIGHT, 180, "rs1 gaining weight")
    busy = [mysql_connect(RS1.split(":")[0]) for _ in range(BUSY)]
    ids = [connection.thread_id() for connection in busy]
    sleepers = [threading.Thread(target=_sleep, args=(c,), daemon=True) for c in busy]
    for sleeper in sleepers:
        sleeper.start()
    try:
        wait_for(lambda: destinations().get(RS1) == WEIGHT, 180, "busy rs1 back to its weight")
        assert destinations().get(RS2, 0) > WEIGHT  # the idle one keeps its gain
        row = next(r for r in instance.load.book.rows() if r["address"] == RS1.split(":")[0])
        assert f"{BUSY} other statements running" in row["why"], row
    finally:
        killer = mysql_connect(RS1.split(":")[0])
        with killer.cursor() as cursor:
            for thread_id in ids:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
        killer.close()
        for sleeper in sleepers:
            sleeper.join(timeout=30)
        for connection in busy:
            connection.close()
    wait_for(lambda: destinations().get(RS1, 0) >= 2 * WEIGHT, 180, "idle rs1 regaining weight")
