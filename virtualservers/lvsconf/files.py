"""Reading an lvs.cf from disk for the command-line paths (applylvs --config, importlvscf).

A path given on a command line may name anything: a FIFO (reading it would wait forever), a device
(reading it may never end), a huge file (a MemoryError). Each gets a one-line error instead.
"""

from __future__ import annotations

import os
import stat

# Far above any real file (1,000 virtual servers of 10 real servers render to about 1.4 MiB).
MAX_LVS_CF_BYTES = 16 * 1024 * 1024


class LvsConfFileError(ValueError):
    """The file cannot be read as an lvs.cf; the message is one line, without the path."""


def read_lvs_cf(path: str | os.PathLike[str]) -> str:
    """The text of the lvs.cf at `path`, CR bytes kept (CRLF gets the parser's warning)."""
    try:
        # O_NONBLOCK: opening a FIFO that has no writer must not wait for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise LvsConfFileError(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LvsConfFileError("cannot read: not a regular file")
        if info.st_size > MAX_LVS_CF_BYTES:
            raise LvsConfFileError(_too_large())
        # One byte more than the limit tells a file that grew since fstat.
        data = _read_at_most(fd, MAX_LVS_CF_BYTES + 1)
    except OSError as exc:
        raise LvsConfFileError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_LVS_CF_BYTES:
        raise LvsConfFileError(_too_large())
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise LvsConfFileError(f"line {line}: a NUL byte: lvs.cf is text, and the GUI refuses NUL")
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LvsConfFileError(f"line {line}: cannot read: not UTF-8 text") from None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _too_large() -> str:
    return f"cannot read: larger than {MAX_LVS_CF_BYTES // (1024 * 1024)} MiB; not an lvs.cf"


__all__ = ["MAX_LVS_CF_BYTES", "LvsConfFileError", "read_lvs_cf"]
