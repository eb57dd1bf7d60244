"""The built-in MySQL check and the guide's mysql_mon.sh, against real MariaDB servers."""

import asyncio
import contextlib
import importlib
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest

from monitoring.checks import programs
from monitoring.checks.probes import CheckSpec, probe
from scripts.testbed.mariadb import MONITOR_PASSWORD, MONITOR_USER, MariaDBServer, install_template

pytestmark = pytest.mark.mariadb
# The guide's script, unchanged: mysqladmin ping on the default port of the host it is given.
MYSQL_MON_SH = """#!/bin/sh
CMD=/usr/bin/mysqladmin

IS_ALIVE=`$CMD -h $1 -u monitor -pSECRET ping | grep -c "alive"`

if [ "$IS_ALIVE" = "1" ]; then
    echo "UP"
else
    echo "DOWN"
fi
"""


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    base = tmp_path_factory.mktemp("mariadb")
    # On its own loopback address and the default port, so that mysql_mon.sh needs no change.
    server = MariaDBServer("127.0.0.2", 3306, base / "one", install_template(base))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_database_on_mysql(monkeypatch):
    """What settings and Django's MySQL backend do to PyMySQL when the application database is
    MySQL: PyMySQL installed as MySQLdb, then `MySQLdb.err` imported (a second copy of the
    module, bound over `pymysql.err`). Undone afterwards unless it was already so."""
    monkeypatch.setattr(pymysql, "err", pymysql.err)  # restored at teardown
    before = {name for name in sys.modules if name.split(".")[0] == "MySQLdb"}
    monkeypatch.setitem(sys.modules, "MySQLdb", sys.modules.get("MySQLdb", pymysql))
    importlib.import_module("MySQLdb.err")
    yield
    for name in [n for n in sys.modules if n.split(".")[0] == "MySQLdb" and n not in before]:
        if name != "MySQLdb":
            del sys.modules[name]


def mysql(**fields) -> CheckSpec:
    values = {
        "kind": "mysql",
        "timeout": 3.0,
        "mysql_user": MONITOR_USER,
        "mysql_password": MONITOR_PASSWORD,
    }
    values.update(fields)
    return CheckSpec(**values)


def check(spec: CheckSpec, address: str = "127.0.0.2", port: int = 3306):
    return asyncio.run(probe(address, port, spec))


def test_it_logs_in_and_passes(mariadb):
    result = check(mysql())
    assert result.ok, result.reason


def test_it_fails_with_a_wrong_password_and_says_so(mariadb):
    result = check(mysql(mysql_password="wrong"))
    assert not result.ok and result.reason == "access denied for user 'monitor'"


def test_the_reasons_stay_the_same_with_the_app_database_on_mysql(mariadb, app_database_on_mysql):
    denied = check(mysql(mysql_password="wrong"))
    assert not denied.ok and denied.reason == "access denied for user 'monitor'"
    with socket.socket() as s:
        s.bind(("127.0.0.3", 0))
        port = s.getsockname()[1]
    refused = check(mysql(), address="127.0.0.3", port=port)
    assert not refused.ok and refused.reason == "connection refused"


def test_it_compares_a_query_result(mariadb):
    assert check(
        mysql(mysql_database="health", mysql_query="SELECT state FROM status", mysql_expect="UP")
    ).ok
    result = check(mysql(mysql_query="SELECT 'DOWN'", mysql_expect="UP"))
    assert not result.ok and result.reason == "expected 'UP', got 'DOWN'"


def test_it_fails_for_a_server_that_is_down():
    with socket.socket() as s:
        s.bind(("127.0.0.3", 0))
        port = s.getsockname()[1]
    result = check(mysql(), address="127.0.0.3", port=port)
    assert not result.ok and result.reason == "connection refused"


def test_it_times_out_on_a_server_that_accepts_and_never_answers():
    with socket.socket() as silent:
        silent.bind(("127.0.0.4", 0))
        silent.listen(5)
        result = check(mysql(timeout=1.0), address="127.0.0.4", port=silent.getsockname()[1])
    assert not result.ok and "timed out" in result.reason


def test_repeated_checks_never_count_as_connect_errors(mariadb):
    before = mariadb.status("Aborted_connects")
    for _ in range(20):
        assert check(mysql()).ok
    assert mariadb.status("Aborted_connects") == before


def test_the_guides_mysql_mon_sh_works_unchanged_as_a_sending_program(
    mariadb, tmp_path: Path, monkeypatch
):
    # Root's one step (README, "Check programs"): the script goes into a check program
    # directory; it runs there as the unprivileged check user.
    script = tmp_path / "mysql_mon.sh"
    script.write_text(MYSQL_MON_SH)
    os.chmod(script, 0o755)
    os.chmod(tmp_path, 0o755)
    monkeypatch.setattr(programs, "_policy", programs.ProgramPolicy(dirs=(str(tmp_path),)))
    spec = CheckSpec(timeout=5, send_program=f"{script} %h", expect="UP")
    result = check(spec)
    assert result.ok, result.reason
    down = asyncio.run(probe("127.0.0.5", 3306, spec))  # nothing listens there
    assert not down.ok and down.reason == "expected 'UP', got 'DOWN'"


def test_it_logs_in_through_the_forwarding_path_on_a_marked_socket(mariadb, monkeypatch):
    from monitoring.checks import probes
    from virtualservers.lvsconf.model import RealServerRef
    from virtualservers.lvsconf.paths import PATH_MARK_FIRST, PathCheck

    marks = []
    real = probes.path_socket

    def spying(path, kind=socket.SOCK_STREAM):
        sock = real(path, kind)
        marks.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_MARK))
        return sock

    monkeypatch.setattr(probes, "path_socket", spying)
    ref = RealServerRef("mysql", "127.0.0.2", 3306)
    # On loopback the "VIP" is the server's own address (no IPVS on the host): the socket is
    # what is proven here, the path itself in the lab VM.
    through = PathCheck(ref, "127.0.0.2", PATH_MARK_FIRST, "route")
    result = asyncio.run(probes.probe_both_ways("127.0.0.2", 3306, mysql(), through))
    assert result.ok, result.reason
    assert marks == [PATH_MARK_FIRST]
    # Nothing listens on the "VIP" 127.0.0.3: answers directly, not through the path.
    elsewhere = PathCheck(ref, "127.0.0.3", PATH_MARK_FIRST, "route")
    result = asyncio.run(probes.probe_both_ways("127.0.0.2", 3306, mysql(), elsewhere))
    assert result.reason.startswith(
        "answers on 127.0.0.2:3306 but not through VIP 127.0.0.3:3306 (connection refused)"
    )


def test_a_login_through_the_path_holds_when_the_checking_thread_is_starved(mariadb, monkeypatch):
    """The lab's BGP pair under load: building PyMySQL's client took a starved thread 2.7-16.7 s,
    and with the path's socket connected before that the server's connect_timeout (counted from
    the TCP connect) reset the login, so the path check failed while the direct one passed.
    Here the server waits 2 s (connect_timeout's minimum) and building the client takes 3."""
    from monitoring.checks import probes
    from virtualservers.lvsconf.model import RealServerRef
    from virtualservers.lvsconf.paths import PATH_MARK_FIRST, PathCheck

    admin = mariadb.connect()
    with admin.cursor() as cursor:
        cursor.execute("SELECT @@global.connect_timeout")
        (usual,) = cursor.fetchone()
        cursor.execute("SET GLOBAL connect_timeout = 2")
    built = pymysql.connections.Connection.__init__

    def starved(self, *args, **kwargs):
        time.sleep(3)
        built(self, *args, **kwargs)

    monkeypatch.setattr(pymysql.connections.Connection, "__init__", starved)
    ref = RealServerRef("mysql", "127.0.0.2", 3306)
    through = PathCheck(ref, "127.0.0.2", PATH_MARK_FIRST, "route")
    try:
        result = asyncio.run(probes.probe_both_ways("127.0.0.2", 3306, mysql(), through))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"SET GLOBAL connect_timeout = {int(usual)}")
        admin.close()
    assert result.ok, result.reason


def test_with_load_monitor_mysql_the_checks_connection_reads_the_load(mariadb):
    idle = check(mysql(mysql_load=True))
    assert idle.ok and idle.load is not None
    assert idle.load.behind is None  # not a replica
    assert check(mysql()).load is None  # without load_monitor = mysql nothing more is read
    busy = [mariadb.connect() for _ in range(3)]
    ids = [connection.thread_id() for connection in busy]
    threads = [
        threading.Thread(target=_sleep_on, args=(connection,), daemon=True) for connection in busy
    ]
    for thread in threads:
        thread.start()
    try:
        # The three sleeping statements are running once the server counts them.
        while mariadb.status("Threads_running") < 4:
            time.sleep(0.05)
        loaded = check(mysql(mysql_load=True))
        assert loaded.ok and loaded.load.threads_running >= 4
        assert loaded.load.load >= 3.0
        assert loaded.load.describe().startswith(f"{loaded.load.threads_running - 1} other")
    finally:
        killer = mariadb.connect()
        with killer.cursor() as cursor:
            for thread_id in ids:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
        killer.close()
        for thread in threads:
            thread.join()
        for connection in busy:
            connection.close()


def _sleep_on(connection) -> None:
    """A long report: SLEEP runs until the test kills it (an interrupted query is expected)."""
    with connection.cursor() as cursor, contextlib.suppress(pymysql.MySQLError):
        cursor.execute("SELECT SLEEP(60)")
