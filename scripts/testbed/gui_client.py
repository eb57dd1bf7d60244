"""The product's GUI driven over real HTTP, as a browser without JavaScript would: a session and
CSRF cookies, the form's CSRF token, the user `piranha`. Used by the tests that start gunicorn
(soak, two directors, the production layout)."""

from __future__ import annotations

import http.client
import re
import socket
import sqlite3
import subprocess
import time
import urllib.parse
from collections import Counter
from pathlib import Path

PASSWORD = "soak-Test-pass-1"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_listener(port: int, process: subprocess.Popen, log: Path) -> None:
    """Until gunicorn accepts connections on the port; its log if it exits or never does."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)


class Client:
    """A browser-like HTTP client: session and CSRF cookies, the form's CSRF token."""

    def __init__(
        self,
        port: int,
        statuses: Counter | None = None,
        timings: list | None = None,
        host: str = "127.0.0.1",
        password: str = PASSWORD,
    ) -> None:
        self.host, self.port, self.password = host, port, password
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.statuses = statuses if statuses is not None else Counter()
        self.timings = timings if timings is not None else []

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=300)
        started = time.monotonic()
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **form})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{self.host}:{self.port}{path}"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            connection.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        match = CSRF.search(text)
        if match:
            self.token = match.group(1)
        self.statuses[response.status] += 1
        self.timings.append(
            (f"{method} {re.sub(r'[0-9]+', 'N', path)}", time.monotonic() - started)
        )
        return response.status, text

    def log_in(self) -> None:
        self.request("GET", "/accounts/login/")
        status, _ = self.request(
            "POST", "/accounts/login/", {"username": "piranha", "password": self.password}
        )
        assert status == 302, "login failed"


def read_db(path: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql, args).fetchall()
