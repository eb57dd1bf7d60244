"""Driving the product under test: `manage.py applylvs --config FILE --state FILE`.

Two ways to run it, the same command class either way:
- `apply()` starts `python manage.py applylvs` as a user would (a new process: Python, Django and
  pyroute2 start-up, several seconds under TCG);
- `apply(in_process=True)` calls the command through Django's `call_command` inside the pytest
  process, for the long loops (50 applies in a row) where start-ups would dominate the lab's time.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMAND = REPO / "monitoring" / "management" / "commands" / "applylvs.py"

# An IPVS operation as --dry-run prints it, in ipvsadm's syntax: "-a -t VIP:port -r RIP:port ...",
# with or without a leading "ipvsadm".
_IPVS_OPERATION = re.compile(r"^\s*(?:\S*ipvsadm\s+)?-([AEDaed])\s+-[tuf]\s")
_IPVSADM_PREFIX = re.compile(r"^\S*ipvsadm\s+")


@dataclass
class ApplyResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]

    @property
    def operations(self) -> list[str]:
        """The IPVS operations printed (by --dry-run), one per line, in ipvsadm's syntax."""
        return [
            _IPVSADM_PREFIX.sub("", line.strip())
            for line in self.stdout.splitlines()
            if _IPVS_OPERATION.match(line)
        ]

    def operations_of(self, kind: str) -> list[str]:
        """Operations of one kind: "-A", "-E", "-D" (services), "-a", "-e", "-d" (servers)."""
        return [op for op in self.operations if _IPVS_OPERATION.match(op).group(1) == kind[-1]]

    def check(self) -> ApplyResult:
        assert self.returncode == 0, (
            f"applylvs exited {self.returncode}:\n{self.stdout}{self.stderr}"
        )
        return self


class Applier:
    """One lvs.cf and one apply-state file (the services and VIPs this "installation" owns)."""

    def __init__(self, directory: Path) -> None:
        self.config = directory / "lvs.cf"
        self.state = directory / "apply-state.json"

    def write(self, text: str) -> None:
        self.config.write_text(text)

    def apply(
        self, text: str | None = None, *extra: str, in_process: bool = False, check: bool = True
    ) -> ApplyResult:
        """Write `text` (if given) to the lvs.cf, run applylvs on it, return what it printed."""
        if text is not None:
            self.write(text)
        args = ["--config", str(self.config), "--state", str(self.state), *extra]
        result = _call_command(args) if in_process else _subprocess(args)
        return result.check() if check else result

    def dry_run(self, text: str | None = None, *, in_process: bool = False) -> ApplyResult:
        return self.apply(text, "--dry-run", in_process=in_process)


def _subprocess(args: list[str]) -> ApplyResult:
    if not COMMAND.exists():
        raise AssertionError(f"{COMMAND.relative_to(REPO)} does not exist (yet)")
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "applylvs", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return ApplyResult(result.returncode, result.stdout, result.stderr)


def _call_command(args: list[str]) -> ApplyResult:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        call_command("applylvs", *args, stdout=stdout, stderr=stderr)
    except CommandError as exc:
        return ApplyResult(exc.returncode, stdout.getvalue(), f"{stderr.getvalue()}{exc}\n")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        return ApplyResult(code, stdout.getvalue(), stderr.getvalue())
    return ApplyResult(0, stdout.getvalue(), stderr.getvalue())
