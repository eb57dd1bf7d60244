"""The shipped systemd units (lvsadmin/deploy/*.service), read by systemd itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from monitoring.worker.heartbeat import BEAT_EVERY

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "lvsadmin" / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def installed_here(unit: Path, target: Path) -> Path:
    """The unit with the documented /opt/lvsadmin and /etc/lvsadmin paths pointed at this
    checkout: systemd-analyze checks that the programs exist."""
    venv = REPO / ".venv" / "bin"
    text = (
        unit.read_text()
        .replace("/opt/lvsadmin/.venv/bin/python", sys.executable)
        .replace("/opt/lvsadmin/.venv/bin/gunicorn", str((venv / "gunicorn").resolve()))
        .replace("/opt/lvsadmin", str(REPO))
        .replace("/etc/lvsadmin/lvsadmin.env", str(DEPLOY / "lvsadmin.env"))
    )
    path = target / unit.name
    path.write_text(text)
    return path


def settings_of(unit: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in unit.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def test_systemd_reads_every_shipped_unit_without_a_complaint(tmp_path):
    assert {u.name for u in UNITS} >= {"lvsadmin-worker.service", "lvsadmin-web.service"}
    result = subprocess.run(
        ["systemd-analyze", "verify", *(installed_here(u, tmp_path) for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # systemd ignores a key it cannot parse, with a line on stderr and exit status 0.
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_the_worker_unit_restarts_a_worker_whose_pings_stop():
    worker = settings_of(DEPLOY / "lvsadmin-worker.service")
    assert worker["NotifyAccess"] == "main"  # the pings come from the worker's own process
    assert worker["Restart"] == "always"
    watchdog = float(worker["WatchdogSec"])
    # Many beats fit in it: a loaded director is not restarted for one late beat.
    assert watchdog >= 10 * BEAT_EVERY
