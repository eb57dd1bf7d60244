"""The application database of a test run, on either engine.

`python -m tests.support.appdb -- COMMAND...` runs COMMAND (the host suite, in scripts/test.sh)
with Django's database on a MariaDB server of its own: made in a fresh directory on tmpfs, on a
unix socket, and stopped and deleted afterwards whatever COMMAND's outcome (its exit status is
returned). SIGTERM or Ctrl-C to this runner stops mariadbd too; SIGKILL leaves it running.

Tests that start `manage.py` in a subprocess need a database of their own, as each one gets a
fresh SQLite file in its own state directory: `own_database_env()` makes one on MariaDB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.testbed.mariadb import APP_DATABASE, AppDatabaseServer

SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")


def on_mysql() -> bool:
    return os.environ.get("LVSADMIN_DB_ENGINE", "sqlite") == "mysql"


@contextmanager
def own_database_env() -> Iterator[dict[str, str]]:
    """Environment for a manage.py subprocess with an empty database of its own: nothing on
    SQLite (the subprocess's state directory holds its file), a new database on MariaDB, dropped
    afterwards."""
    if not on_mysql():
        yield {}
        return
    name = f"{APP_DATABASE}_{uuid.uuid4().hex[:12]}"
    server = AppDatabaseServer(Path(os.environ["LVSADMIN_DB_HOST"]).parent)
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield {"LVSADMIN_DB_NAME": name}
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="+", help="what to run against the database")
    args = parser.parse_args(argv)
    base = SCRATCH / f"lvsadmin-test-mariadb-{os.getpid()}"
    server = AppDatabaseServer(base)
    # SIGTERM (make interrupted, a CI timeout) unwinds through `finally` like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    child: subprocess.Popen | None = None
    try:
        server.start()
        child = subprocess.Popen(args.command, env={**os.environ, **server.env()})
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())


def this_database_env() -> dict[str, str]:
    """Environment for a subprocess that works on the very database this test uses (a test with
    `transaction=True`, whose rows are committed where the subprocess can see them)."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    return {"LVSADMIN_DB_NAME": name} if on_mysql() else {"LVSADMIN_DB_PATH": name}
