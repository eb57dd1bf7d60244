"""Which sending programs the worker (root) may run, and how, so that whoever can write a
monitoring script (a GUI login, or a write to the database) cannot become root on the director.

The model, also in the README ("Check programs"):
- A program must resolve inside a directory that root lists in LVSADMIN_CHECK_PROGRAM_DIRS (an
  environment setting, never a form field). Every directory from / down to it is owned by root
  and writable by nobody else (above the listed directory a sticky directory such as /tmp is
  tolerated: its other users cannot rename what they do not own); the listed directory, what is
  below it, and the program itself must not be group- or world-writable at all.
- Shells and script interpreters are refused by name even there: given code on their command
  line (sh -c, python -c, perl -e) they would run whatever the form says.
- The program is opened once, component by component without following symlinks, checked on
  that descriptor, and executed through /proc/self/fd/N: no second path lookup that a swapped
  symlink or a rename could redirect.
- It runs as LVSADMIN_CHECK_USER (nobody) with no supplementary groups and a clean environment
  (the worker's holds the database password), unless root opted the directory in with
  LVSADMIN_CHECK_ROOT_DIRS.

Django-free: the worker hands the settings to configure().
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import stat
from dataclasses import dataclass

DEFAULT_DIRS = ("/usr/lib/lvsadmin/checks", "/etc/lvsadmin/checks")
DIRS_SETTING = "LVSADMIN_CHECK_PROGRAM_DIRS"
# A check program sees these variables only: nothing of the worker's environment.
CHILD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
# Programs that run code given on their command line. A copy under another name is root's doing.
_INTERPRETER_RE = re.compile(
    r"^(sh|bash|dash|ash|zsh|ksh|mksh|csh|tcsh|fish|busybox|env|sudo|su|xargs|nohup|timeout|"
    r"setsid|nice|awk|gawk|mawk|nawk|sed|find|expect|tclsh|wish|node|nodejs|"
    r"(python|perl|ruby|php|lua|luajit|pypy)[0-9.]*)$"
)


class ProgramRefused(Exception):
    """The sending program may not run; the message says why, for the health reason."""


@dataclass(frozen=True)
class ProgramPolicy:
    dirs: tuple[str, ...] = DEFAULT_DIRS
    user: str = "nobody"
    root_dirs: tuple[str, ...] = ()
    # The owner required of the directories and programs besides root (0: root only). Only
    # the tests set it, to their own uid, when they cannot run as root.
    owner: int = 0

    @property
    def trusted(self) -> frozenset[int]:
        return frozenset({0, self.owner})

    def directory_of(self, real: str) -> str | None:
        """The allowed directory (resolved) holding this resolved path, the deepest one."""
        found = [d for d in _resolved(self.dirs) if real.startswith(d.rstrip("/") + "/")]
        return max(found, key=len) if found else None

    def runs_as_root(self, directory: str) -> bool:
        return directory in _resolved(self.root_dirs)


def _resolved(dirs: tuple[str, ...]) -> list[str]:
    return [os.path.realpath(d) for d in dirs if os.path.isabs(d)]


_policy = ProgramPolicy()


def configure(policy: ProgramPolicy) -> None:
    global _policy
    _policy = policy


def current_policy() -> ProgramPolicy:
    return _policy


@dataclass
class CheckedProgram:
    """An open descriptor on the very file that was checked, and whom to run it as."""

    fd: int
    uid: int | None  # None: keep the worker's own user
    gid: int | None

    @property
    def executable(self) -> str:
        return f"/proc/self/fd/{self.fd}"

    def close(self) -> None:
        os.close(self.fd)


def open_program(path: str, policy: ProgramPolicy | None = None) -> CheckedProgram:
    """Open and check `path`; raise ProgramRefused with the reason when it may not run."""
    policy = policy or _policy
    if not os.path.isabs(path):
        raise ProgramRefused(f"refusing to run {path}: not an absolute path")
    real = os.path.realpath(path)
    directory = policy.directory_of(real)
    if directory is None:
        listed = ":".join(policy.dirs) or "none"
        raise ProgramRefused(
            f"refusing to run {path}: not in a check program directory ({DIRS_SETTING}: {listed})"
        )
    if _INTERPRETER_RE.match(os.path.basename(real)):
        raise ProgramRefused(
            f"refusing to run {path}: an interpreter would run code from the command line; "
            "put the check in a script"
        )
    uid = gid = None
    if os.geteuid() == 0 and not policy.runs_as_root(directory):
        uid, gid = _check_user(policy.user)
    fd = _open_checked(path, real, directory, policy.trusted)
    return CheckedProgram(fd, uid, gid)


async def spawn(
    argv: list[str],
    user: int | None,
    group: int | None,
    executable: str | None = None,
    pass_fds: tuple[int, ...] = (),
    stderr: int = asyncio.subprocess.DEVNULL,
) -> asyncio.subprocess.Process:
    """Start a check's command the one way they all start: as `user` with no supplementary
    groups (None: the worker's own user), a clean environment, cwd /, no stdin, stdout piped."""
    return await asyncio.create_subprocess_exec(
        *argv,
        executable=executable,
        pass_fds=pass_fds,
        user=user,
        group=group,
        extra_groups=[] if user is not None else None,
        env=CHILD_ENV,
        cwd="/",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )


def check_user_ids(policy: ProgramPolicy | None = None) -> tuple[int | None, int | None]:
    """Whom a command lvsadmin runs for a check runs as: the check user when the worker is root
    (ProgramRefused when that user is missing or root), else the worker's own user (None)."""
    if os.geteuid() != 0:
        return None, None
    return _check_user((policy or _policy).user)


def _check_user(name: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        raise ProgramRefused(f"the check user {name!r} does not exist") from None
    if entry.pw_uid == 0:
        raise ProgramRefused("the check user is root: opt directories in with the root setting")
    return entry.pw_uid, entry.pw_gid


def _open_checked(path: str, real: str, directory: str, trusted: frozenset[int]) -> int:
    """Walk from / to the program one component at a time (no symlink followed: `real` has none,
    so one appearing now is a swap), checking each on its descriptor."""
    parts = [p for p in real.split("/") if p]
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    prefix = "/"
    try:
        _check_entry(path, prefix, os.fstat(fd), strict=False, trusted=trusted)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            # The program is opened for reading so that a #! script's interpreter can read it
            # through /proc/self/fd/N; O_NONBLOCK so that a FIFO cannot stall the event loop.
            flags = os.O_NOFOLLOW | os.O_CLOEXEC
            flags |= os.O_RDONLY | os.O_NONBLOCK if last else os.O_PATH | os.O_DIRECTORY
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                raise ProgramRefused(f"cannot run {path}: {exc.strerror}") from None
            os.close(fd)
            fd = child
            prefix = os.path.join(prefix, part)
            strict = len(prefix) >= len(directory)
            _check_entry(path, prefix if not last else "", os.fstat(fd), strict, trusted)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_entry(
    path: str, what: str, info: os.stat_result, strict: bool, trusted: frozenset[int]
) -> None:
    """One directory on the way (`what` names it) or, `what` empty, the program itself."""
    subject = f"{what} is " if what else ""
    if info.st_uid not in trusted:
        owner = "root" if trusted == {0} else f"uid {max(trusted)} or root"
        raise ProgramRefused(
            f"refusing to run {path}: {subject}owned by uid {info.st_uid}, not {owner}"
        )
    sticky = bool(info.st_mode & stat.S_ISVTX) and stat.S_ISDIR(info.st_mode)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and (strict or not sticky):
        raise ProgramRefused(f"refusing to run {path}: {subject}writable by group or others")
    if what:
        return
    if not stat.S_ISREG(info.st_mode):
        raise ProgramRefused(f"refusing to run {path}: not a regular file")
    if not info.st_mode & 0o111:
        raise ProgramRefused(f"cannot run {path}: not executable")
