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
        deadline = time.monotonic() + wait
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd on {self.address}:{self.port} exited: {self.log_tail()}"
                )
            try:
                self.connect().close()
                return self
            except pymysql.OperationalError:  # not pymysql.err: see probes.mysql_check
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mariadbd on {self.address}:{self.port} not ready: {self.log_tail()}"
                    ) from None
                time.sleep(0.2)

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
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self) -> str:
        try:
            return "\n".join((self.base / "error.log").read_text().splitlines()[-15:])
        except OSError:
            return "(no error log)"
