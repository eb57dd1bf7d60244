"""Yes/no environment variables: an unknown value stops start-up instead of reading as false."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("value", ["y", "enabled"])
def test_it_refuses_to_start_with_an_unknown_yes_no_value(value, tmp_path):
    result = manage_check(LVSADMIN_HTTPS=value, LVSADMIN_STATE_DIR=str(tmp_path))
    assert result.returncode != 0
    assert f"LVSADMIN_HTTPS='{value}' is not a yes/no value" in result.stderr
    assert "1, true, yes, on (yes) or 0, false, no, off (no)" in result.stderr


@pytest.mark.parametrize("value", ["yes", "On", "0", ""])
def test_it_starts_with_the_accepted_yes_no_values(value, tmp_path):
    result = manage_check(LVSADMIN_HTTPS=value, LVSADMIN_STATE_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
