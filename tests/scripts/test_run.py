"""`make run` (scripts/run.sh): its banner says where the GUI really listens. Run against stand-ins
for the venv's python and gunicorn, so nothing is migrated, served or checked."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RUN_SH = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"

# manage.py: every command succeeds at once, but "vrrp --enabled" says redundancy is off (1), and
# the worker waits to be stopped. gunicorn says which bind it was given, then exits (which ends
# run.sh, as a stopped GUI does).
FAKE_PYTHON = """#!/bin/sh
case "$2" in
  vrrp) exit 1 ;;
  lvsworker) exec sleep 30 ;;
esac
exit 0
"""
FAKE_GUNICORN = """#!/bin/sh
echo "gunicorn bind=$LVSADMIN_BIND"
"""


def run_banner(tmp_path: Path, **env: str) -> str:
    (tmp_path / "scripts").mkdir()
    shutil.copy(RUN_SH, tmp_path / "scripts" / "run.sh")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("gunicorn", FAKE_GUNICORN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LVSADMIN_")}
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "run.sh")],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize(
    ("bind", "shown"),
    [
        ("127.0.0.1:8036", "http://127.0.0.1:8036/"),
        ("[::1]:3636", "http://[::1]:3636/"),
        ("unix:/run/lvsadmin/web.sock", "unix:/run/lvsadmin/web.sock"),
    ],
)
def test_the_banner_prints_the_bind_lvsadmin_bind_names(tmp_path, bind, shown):
    out = run_banner(tmp_path, LVSADMIN_BIND=bind)
    assert f"gunicorn bind={bind}" in out
    assert f"lvsadmin: GUI on {shown} " in out
    assert "0.0.0.0:3636" not in out


def test_the_banner_prints_the_default_bind_without_lvsadmin_bind(tmp_path):
    out = run_banner(tmp_path)
    assert "gunicorn bind=0.0.0.0:3636" in out
    assert "lvsadmin: GUI on http://0.0.0.0:3636/ " in out
