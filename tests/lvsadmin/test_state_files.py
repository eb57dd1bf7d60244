"""What lvsadmin leaves on disk is not readable by other users, whatever the caller's umask:
the database holds MySQL check passwords and sessions."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.sqlite_only  # the SQLite file and its -wal/-shm; a MariaDB server keeps its own
def test_the_database_and_state_directory_are_private_even_under_umask_000(tmp_path) -> None:
    state = tmp_path / "state"
    env = {
        **os.environ,
        "LVSADMIN_STATE_DIR": str(state),
        "DJANGO_SETTINGS_MODULE": "lvsadmin.settings",
    }
    env.pop("LVSADMIN_SECRET_KEY", None)
    env.pop("LVSADMIN_DB_PATH", None)
    # A shell with umask 000, as a careless service manager might give it.
    subprocess.run(
        ["sh", "-c", f"umask 000 && exec {sys.executable} manage.py migrate -v0"],
        cwd=REPO,
        env=env,
        check=True,
    )
    created = [state, *state.iterdir()]
    assert state / "lvsadmin.sqlite3" in created
    for path in created:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path.name} is open to other users: {oct(mode)}"
        assert mode & 0o020 == 0, f"{path.name} is writable by its group: {oct(mode)}"
