"""Files on disk: reading an lvs.cf safely, and the one atomic write every writer uses.

A path given on a command line (applylvs --config, importlvscf) may name anything: a FIFO
(reading it would wait forever), a device (reading it may never end), a huge file (a
MemoryError). Each gets a one-line error instead.

Every file another process reads (lvs.cf, the role file, keepalived's configuration, the apply
state, the worker's view and counters) is replaced whole through `write_atomically`, so a reader
sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from contextlib import suppress
from glob import escape as glob_escape
from pathlib import Path

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


# A temp file this old is no write in progress (one takes milliseconds) but a write that was
# killed between creating and renaming it.
STALE_TEMP_SECONDS = 60


def temp_prefix(path: Path) -> str:
    """The hidden name a write of `path` starts its temp file with (then a random part, .tmp)."""
    return f".{path.name}."


def remove_stale_temp_files(path: Path) -> None:
    """Delete the temp files a killed write of `path` left in its directory (only ours: our
    prefix and suffix, and older than STALE_TEMP_SECONDS, so a concurrent write keeps its own)."""
    limit = time.time() - STALE_TEMP_SECONDS
    for candidate in path.parent.glob(f"{glob_escape(temp_prefix(path))}*.tmp"):
        with suppress(OSError):
            if candidate.is_file() and candidate.lstat().st_mtime < limit:
                candidate.unlink()


def write_atomically(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    mode: int | None = None,
    group_of: str | os.PathLike[str] | None = None,
    durable: bool = False,
) -> None:
    """Replace `path` with `data` (text written UTF-8 with LF line ends) in one rename.

    mode: the file's permission bits; None leaves them to the umask (0666 masked), as a plain
    open() would. group_of: a path whose group the new file takes (the file it replaces, whose
    group readers rely on; or the state directory), kept as it is when that fails (not root, no
    such path). durable: fsync the file and its directory, so the new file survives a crash right
    after the return (lvs.cf, the apply state); files rewritten every few seconds skip it.
    Temp files of killed writes are removed on the way (STALE_TEMP_SECONDS)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = target.with_name(f"{temp_prefix(target)}{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else 0o600)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, mode)
            if group_of is not None:
                with suppress(OSError):
                    os.fchown(fd, -1, os.stat(group_of).st_gid)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


__all__ = [
    "MAX_LVS_CF_BYTES",
    "LvsConfFileError",
    "read_lvs_cf",
    "remove_stale_temp_files",
    "write_atomically",
]
