"""The program keepalived runs on each VRRP transition: it records this director's role.

    python monitoring/redundancy/hook.py --role-file F --yield-file Y [--ready-file R]
        --peer ADDR STATE

STATE is MASTER, BACKUP, FAULT or STOP. It only writes the role file (no shell, nothing from the
arguments is executed); the worker reads the file and switches the sync daemon. Run as a script by
keepalived (no Django, a few milliseconds), so it puts the repository on ``sys.path`` itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitoring.redundancy.role import (  # noqa: E402
    ROLE_ACTIVE,
    ROLE_FAULT,
    ROLE_STANDBY,
    DirectorRole,
    role_lock,
    write_role,
)

ROLE_OF_STATE = {"MASTER": ROLE_ACTIVE, "BACKUP": ROLE_STANDBY, "FAULT": ROLE_FAULT}
REASON_OF_STATE = {
    "MASTER": "keepalived: MASTER (this director holds the VIPs)",
    "BACKUP": "keepalived: BACKUP (the peer holds the VIPs)",
    "FAULT": "keepalived: FAULT (a tracked link is down)",
    "STOP": "keepalived stopped: this director holds no VIP",
}


def track_file_set(path: Path | None) -> bool:
    """A keepalived track file (weight 0) holding a non-zero number: the instance is in FAULT
    because of it. The yield file: the operator handed the role away; the worker-ready file
    (monitoring.redundancy.keepalived.hold_until_ready): the worker is not ready yet."""
    if path is None:
        return False
    try:
        return path.read_text().strip() not in ("", "0")
    except OSError:
        return False


def notify(
    role_file: Path, yield_file: Path, peer: str, state: str, ready_file: Path | None = None
) -> DirectorRole:
    role = ROLE_OF_STATE.get(state, ROLE_FAULT)
    reason = REASON_OF_STATE.get(state, f"keepalived: unknown state {state!r}")
    if state == "FAULT" and track_file_set(yield_file):
        reason = "handing the active role to the peer (operator's request)"
    elif state == "FAULT" and track_file_set(ready_file):
        reason = (
            "keepalived: FAULT until this director's worker has loaded the IPVS table and "
            "switched the sync daemon (it cannot take over before)"
        )
    with role_lock(role_file):
        return write_role(role_file, role, reason, peer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role-file", type=Path, required=True)
    parser.add_argument("--yield-file", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--peer", default="")
    parser.add_argument("state", choices=[*ROLE_OF_STATE, "STOP"])
    args = parser.parse_args(argv)
    notify(args.role_file, args.yield_file, args.peer, args.state, args.ready_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
