"""The operator's withdrawal of this director ("Take this director out of service"): a flag file
the web process writes and the worker reads on each poll, as the VRRP hand-over's yield file.

While it is set, the worker announces nothing: the routers send this director's flows to the
others, which carry them on (the same real servers in the same order, Maglev hashing and
sloppy_tcp), and this director keeps its table, its health checks and its BGP sessions, so that
putting it back in service announces again at once. A file, not a database row: the worker reads
no database for it, and the flag outlives a worker's restart (a director taken out for
maintenance must not come back by itself when its worker is restarted).
"""

from __future__ import annotations

from pathlib import Path

from virtualservers.lvsconf.files import write_atomically


def out_of_service(path: Path) -> bool:
    try:
        return path.read_text().strip() not in ("", "0")
    except FileNotFoundError:
        return False


def set_out_of_service(path: Path, out: bool) -> bool:
    """Whether anything changed (a repeated request changes nothing)."""
    if out_of_service(path) == out:
        return False
    # Durable: the operator's decision must survive a crash right after it was confirmed.
    write_atomically(path, "1\n" if out else "0\n", durable=True, group_of=path.parent)
    return True
