"""Real MariaDB servers for tests, on loopback addresses of the host (127.0.0.x).

A template data directory is made once per session by mariadb-install-db and copied for each
server; each server runs `mariadbd` as root with its own socket, pid file and error log, and an
init file that creates the test users. Nothing here is skipped: a missing mariadbd fails loudly.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

MONITOR_USER, MONITOR_PASSWORD = "monitor", "SECRET"


def install_template(directory: Path) -> Path:
    template = directory / "template"
    if not template.exists():
        assert shutil.which("mariadb-install-db"), (
            "mariadb-install-db is missing: `make test` installs mariadb-server"
        )
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={template}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve",
             "--innodb-log-file-size=8M"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return template


@dataclass
class MariaDBServer:
    address: str
    port: int
    base: Path
    template: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def init_sql(self) -> Path:
        path = self.base / "init.sql"
        path.write_text(
            f"CREATE USER IF NOT EXISTS '{MONITOR_USER}'@'%' IDENTIFIED BY '{MONITOR_PASSWORD}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{MONITOR_USER}'@'%';\n"
            "CREATE DATABASE IF NOT EXISTS health;\n"
            "CREATE TABLE IF NOT EXISTS health.status (state VARCHAR(8));\n"
            "DELETE FROM health.status;\nINSERT INTO health.status VALUES ('UP');\n"
        )
        return path

    def start(self, wait: float = 60) -> MariaDBServer:
        if self.process is not None and self.process.poll() is None:
            return self
        datadir = self.base / "data"
        if not datadir.exists():
            self.base.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.template, datadir)
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={datadir}",
             f"--socket={self.base / 'mysqld.sock'}", f"--pid-file={self.base / 'mysqld.pid'}",
             f"--port={self.port}", f"--bind-address={self.address}", "--skip-name-resolve",
             "--skip-log-bin", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M",
             f"--init-file={self.init_sql()}", f"--log-error={self.base / 'error.log'}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_until_ready(
            self.process, self.connect, f"{self.address}:{self.port}", self.base / "error.log", wait
        )
        return self

    def connect(self) -> pymysql.Connection:
        return pymysql.connect(
            host=self.address,
            port=self.port,
            user=MONITOR_USER,
            password=MONITOR_PASSWORD,
            connect_timeout=2,
        )

    def status(self, name: str) -> int:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                return int(cursor.fetchone()[1])
        finally:
            connection.close()

    def stop(self) -> None:
        stop_process(self.process)

    def log_tail(self) -> str:
        return log_tail(self.base / "error.log")


def wait_until_ready(
    process: subprocess.Popen, connect: Callable[[], pymysql.Connection], where: str,
    error_log: Path, wait: float,
) -> None:  # fmt: skip
    deadline = time.monotonic() + wait
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"mariadbd on {where} exited: {log_tail(error_log)}")
        try:
            connect().close()
            return
        # Not pymysql.err.OperationalError: see monitoring.checks.probes.mysql_check.
        except pymysql.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mariadbd on {where} not ready: {log_tail(error_log)}"
                ) from None
            time.sleep(0.2)


def log_tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-15:])
    except OSError:
        return "(no error log)"


def stop_process(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- The application database of a test run on MariaDB ------------------------------------------
# The user has the rights the README's production setup grants on `lvsadmin`, plus those Django's
# test runner needs: the test database `test_lvsadmin`, and `lvsadmin_*` for tests that start
# manage.py in a subprocess, each on a fresh database of its own (see tests/support/appdb.py).
APP_USER, APP_PASSWORD, APP_DATABASE = "lvsadmin", "lvsadmin-Test-pass", "lvsadmin"


@dataclass
class AppDatabaseServer:
    """One mariadbd for Django's database, listening on a unix socket only (no TCP port that a
    parallel run or the probe tests' servers on 127.0.0.x:3306 could collide with)."""

    base: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.base / "mysqld.sock"

    def env(self) -> dict[str, str]:
        """The settings' environment variables that point Django at this server."""
        return {
            "LVSADMIN_DB_ENGINE": "mysql",
            "LVSADMIN_DB_HOST": str(self.socket),
            "LVSADMIN_DB_NAME": APP_DATABASE,
            "LVSADMIN_DB_USER": APP_USER,
            "LVSADMIN_DB_PASSWORD": APP_PASSWORD,
        }

    def start(self, wait: float = 120) -> AppDatabaseServer:
        template = install_template(self.base)
        datadir = self.base / "data"
        shutil.copytree(template, datadir)
        init = self.base / "init.sql"
        init.write_text(
            f"CREATE USER IF NOT EXISTS '{APP_USER}'@'localhost' IDENTIFIED BY '{APP_PASSWORD}';\n"
            f"CREATE DATABASE IF NOT EXISTS `{APP_DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
            f"GRANT ALL PRIVILEGES ON `{APP_DATABASE}`.* TO '{APP_USER}'@'localhost';\n"
            f"GRANT ALL PRIVILEGES ON `test\\_{APP_DATABASE}`.* TO '{APP_USER}'@'localhost';\n"
            f"GRANT ALL PRIVILEGES ON `{APP_DATABASE}\\_%`.* TO '{APP_USER}'@'localhost';\n"
        )
        # The data lives on tmpfs for the run only: durability settings cost time and buy nothing.
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={datadir}",
             f"--socket={self.socket}", f"--pid-file={self.base / 'mysqld.pid'}",
             "--skip-networking", "--skip-name-resolve", "--skip-log-bin",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
             "--innodb-log-file-size=32M", "--innodb-buffer-pool-size=128M",
             "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
             f"--init-file={init}", f"--log-error={self.base / 'error.log'}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_until_ready(
            self.process, self.connect, str(self.socket), self.base / "error.log", wait
        )
        return self

    def connect(self, database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(
            unix_socket=str(self.socket),
            user=APP_USER,
            password=APP_PASSWORD,
            database=database,
            connect_timeout=2,
        )

    def stop(self) -> None:
        stop_process(self.process)
