"""Fixtures for every test directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appdb import own_database_env


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
