"""Fixtures for every test directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appdb import on_mysql, own_database_env

# What a test uses the application database through (besides the django_db marker).
DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup", "own_database"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the MariaDB run (tests.support.appdb), only the tests the database can change: those
    that use it, and the MySQL probes (the application's database driver once changed their
    reasons). Left out: the tests marked sqlite_only, and every test that never opens a
    database connection (the Django-free cores: lvs.cf, IPVS, probes, health; subprocesses
    that must not need a database): the engine cannot reach them, and they are half of the
    suite's time (about 3 of 7 minutes on a quiet machine)."""
    if not on_mysql():
        return
    kept, left_out = [], []
    for item in items:
        uses_database = (
            item.get_closest_marker("django_db") is not None
            or item.get_closest_marker("mariadb") is not None
            or bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
        )
        if uses_database and item.get_closest_marker("sqlite_only") is None:
            kept.append(item)
        else:
            left_out.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


# The thread pools of a running worker (monitoring.worker.loop): they end when its run() ends.
WORKER_THREADS = ("lvsadmin-control", "lvsadmin-status")


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test() -> Iterator[None]:
    """A test's worker stops with the test. One left running (a stop slower than the test's
    join on a loaded machine) writes the status rows into the next test's database: on MariaDB
    it made a third writer beside a two-writer test, and the two deadlocked (CI, 2026-12-06).
    Torn down before pytest-django empties the database (its fixtures are set up first)."""
    yield
    left = [t for t in threading.enumerate() if t.name.startswith(WORKER_THREADS)]
    for thread in left:
        thread.join(timeout=120)
    running = sorted({t.name for t in left if t.is_alive()})
    assert not running, f"a worker this test started still runs: {running}"


@pytest.fixture
def own_database() -> Iterator[dict[str, str]]:
    """Environment variables that give a `manage.py` subprocess an empty database of its own
    (its state directory's SQLite file, or a new MariaDB database on the MariaDB run)."""
    with own_database_env() as env:
        yield env


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The login lock of the SQLite test database (lvsadmin.auth.login_lock) goes with it."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME")
    if name and database["ENGINE"].endswith("sqlite3"):
        Path(f"{name}.login-lock").unlink(missing_ok=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The translations compiled (`make test` does it first; this covers a bare `pytest`): a .mo
    missing or older than its .po is built with msgfmt, as compilemessages would."""
    import shutil
    import subprocess

    if shutil.which("msgfmt") is None:
        return
    locale = Path(__file__).resolve().parents[1] / "locale"
    for po in locale.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)
