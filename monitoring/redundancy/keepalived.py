"""keepalived's configuration for two directors, generated from lvs.cf.

keepalived only moves the VIPs (and the NAT router address) between the directors by VRRP: the
configuration holds one ``vrrp_instance`` and what it needs, never a ``virtual_server`` block, so
the IPVS table stays the worker's on both directors.

How Piranha's redundancy keys map onto VRRP:
- ``primary`` and ``backup`` are the two directors' own addresses. A director finds which one it
  is by looking for either on its interfaces (as pulse did); VRRP runs unicast between them.
- No automatic fail-back: both start in state BACKUP with ``nopreempt``. The primary has the higher
  priority so that it wins when both start together, but a primary that returns while the backup
  is active stays standby.
- ``keepalive`` is the advertisement interval and ``deadtime`` the promise for how fast a dead
  partner is replaced. A VRRP backup declares the master dead after 3 advertisement intervals plus
  a skew of (256 - priority) / 256 of an interval, so the interval is shortened until that fits in
  ``deadtime`` (VRRPv2 counts whole seconds: at least 1 s, hence about 3.6 s at best).
- ``monitor_links``: the instance's interface and the VIPs' devices are tracked (a link down puts
  the director in FAULT, which gives the VIPs away); without it keepalived ignores link state, as
  pulse did.
- Handing the active role to the peer: a track file (``weight 0``) holding a non-zero number puts
  the instance in FAULT. The active director leaves MASTER at once (it advertises priority 0, so
  the peer takes over without waiting for the master-down timer); when the file goes back to 0 it
  returns as BACKUP and, with ``nopreempt``, stays there.
- A director that cannot yet serve never takes the VIPs: a second track file (the worker-ready
  file) is set to 1 just before keepalived starts (``hold_until_ready``) and holds the instance
  in FAULT until the worker has loaded the IPVS table and switched the sync daemon, and writes 0.
  Without it, a director coming back from a reboot stood by (keepalived up in a second) while its
  worker was still starting, and a failure of the peer then moved the VIPs to an empty table,
  with the connections opened meanwhile unknown to its sync daemon (measured in the lab: 33 s
  between keepalived's BACKUP and the loaded table under emulation).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from monitoring.ipvs.table import Vip, desired_state
from virtualservers.lvsconf.files import write_atomically
from virtualservers.lvsconf.model import DEFAULT_DEADTIME, DEFAULT_KEEPALIVE, LvsConfig

PRIMARY_PRIORITY = 150
BACKUP_PRIORITY = 100
INSTANCE = "lvsadmin"
YIELD_TRACK = "lvsadmin_yield"
READY_TRACK = "lvsadmin_worker_ready"
NOT_READY, READY = "1\n", "0\n"
_DEVICE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
# Words keepalived reads unquoted or in double quotes: no whitespace, quotes or comment signs.
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_./:=+@%,-]+$")


class RedundancyError(ValueError):
    """The redundancy settings cannot run on this director; the message is for the operator."""


def redundancy_on(config: LvsConfig) -> bool:
    return config.redundant


@dataclass(frozen=True)
class VrrpTimers:
    advert_int: int
    master_down: float  # seconds the lower-priority director waits before taking over
    deadtime: int

    @property
    def within_deadtime(self) -> bool:
        return self.master_down <= self.deadtime


def master_down_interval(advert_int: float, priority: int = BACKUP_PRIORITY) -> float:
    return 3 * advert_int + (256 - priority) / 256 * advert_int


def vrrp_timers(keepalive: int | None, deadtime: int | None) -> VrrpTimers:
    """The advertisement interval: ``keepalive``, shortened until a takeover by the backup (the
    lower priority, so the longer skew) fits in ``deadtime``."""
    dead = deadtime or DEFAULT_DEADTIME
    advert = max(1, keepalive or DEFAULT_KEEPALIVE)
    while advert > 1 and master_down_interval(advert) > dead:
        advert -= 1
    return VrrpTimers(advert, round(master_down_interval(advert), 2), dead)


@dataclass(frozen=True)
class Director:
    """Which of the two directors this one is, from the addresses on its interfaces."""

    address: str
    peer: str
    device: str
    primary: bool

    @property
    def priority(self) -> int:
        return PRIMARY_PRIORITY if self.primary else BACKUP_PRIORITY


def whoami(config: LvsConfig, local: Iterable[tuple[str, str]]) -> Director:
    """``local`` is (address, device) for every address on this director."""
    if not config.primary or not redundancy_on(config):
        raise RedundancyError("redundancy needs both the primary and the backup address")
    primary, backup = _ip(config.primary, "primary"), _ip(config.backup or "", "backup")
    if primary == backup:
        raise RedundancyError(f"the backup address {backup} is the primary's own address")
    devices = {str(ipaddress.ip_address(a)): d.split(":", 1)[0] for a, d in local}
    if primary in devices:
        return Director(primary, backup, devices[primary], True)
    if backup in devices:
        return Director(backup, primary, devices[backup], False)
    raise RedundancyError(
        f"neither the primary ({primary}) nor the backup ({backup}) address is on this "
        "director's interfaces"
    )


def _ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise RedundancyError(f"the {what} address {value!r} is not an IP address") from None


@dataclass(frozen=True)
class Hooks:
    """The notify program keepalived runs on each transition (argv without the state), the role
    file it writes, the track file that hands the role away and the one that holds it until the
    worker is ready (None: not tracked)."""

    notify: tuple[str, ...]
    role_file: Path
    yield_file: Path
    ready_file: Path | None = None


def vips_of(config: LvsConfig) -> list[Vip]:
    """The addresses that move with the active role: the VIPs of active virtual servers and the
    NAT router address."""
    desired = desired_state(config)
    return desired.vips + ([desired.nat_router] if desired.nat_router else [])


def auth_pass(secret: str, director: Director, router_id: int) -> str:
    """VRRPv2's password (8 characters, sent in clear): it keeps two clusters on one segment apart
    rather than stopping an attacker. From the shared secret when there is one."""
    pair = "|".join(sorted((director.address, director.peer)))
    seed = secret or f"lvsadmin|{router_id}|{pair}"
    return hashlib.sha256(seed.encode()).hexdigest()[:8]


def render(
    config: LvsConfig,
    director: Director,
    hooks: Hooks,
    router_id: int = 51,
    secret: str = "",
    serial: int | None = None,
) -> str:
    """The whole keepalived.conf for this director."""
    if not 1 <= router_id <= 255:
        raise RedundancyError(f"the VRRP router id {router_id} is outside 1-255")
    timers = vrrp_timers(config.keepalive, config.deadtime)
    vips = vips_of(config)
    for vip in vips:
        _device(vip.device)
        _device(vip.label)
    _device(director.device)
    notify = [_word(part, "notify program") for part in hooks.notify]
    notify += ["--role-file", _word(str(hooks.role_file), "role file")]
    notify += ["--yield-file", _word(str(hooks.yield_file), "yield file")]
    if hooks.ready_file is not None:
        notify += ["--ready-file", _word(str(hooks.ready_file), "worker-ready file")]
    notify += ["--peer", director.peer]
    source = f"revision {serial}" if serial is not None else "lvs.cf"
    lines = [
        f"# Generated by lvsadmin from {source}: do not edit, it is rewritten on every publish.",
        f"# Takeover after {timers.master_down:g} s (deadtime {timers.deadtime} s).",
        "",
        "global_defs {",
        f"    router_id lvsadmin_{director.address.replace(':', '_')}",
        "    script_user root",
        # keepalived then refuses a notify program that a non-root user could replace.
        "    enable_script_security",
        "}",
        "",
        # track_file: keepalived 2.2's name; "vrrp_track_file" is deprecated (it warns at start).
        f"track_file {YIELD_TRACK} {{",
        f'    file "{hooks.yield_file}"',
        "    weight 0",
        "    init_file 0",
        "}",
        "",
    ]
    tracks = [YIELD_TRACK]
    if hooks.ready_file is not None:
        tracks.append(READY_TRACK)
        # Created as "not ready" if missing; never overwritten here: a reload (SIGHUP) rereads
        # this configuration, and must not put a serving director in FAULT.
        lines += [
            f"track_file {READY_TRACK} {{",
            f'    file "{hooks.ready_file}"',
            "    weight 0",
            "    init_file 1",
            "}",
            "",
        ]
    lines += [
        f"vrrp_instance {INSTANCE} {{",
        "    state BACKUP",
        "    nopreempt",
        f"    interface {director.device}",
        f"    virtual_router_id {router_id}",
        f"    priority {director.priority}",
        f"    advert_int {timers.advert_int}",
        f"    unicast_src_ip {director.address}",
        "    unicast_peer {",
        f"        {director.peer}",
        "    }",
        "    authentication {",
        "        auth_type PASS",
        f"        auth_pass {auth_pass(secret, director, router_id)}",
        "    }",
    ]
    v4 = [v for v in vips if ipaddress.ip_address(v.address).version == 4]
    v6 = [v for v in vips if ipaddress.ip_address(v.address).version == 6]
    if v4:
        lines += ["    virtual_ipaddress {", *map(_vip_line, v4), "    }"]
    if v6:
        # An IPv4 VRRP instance carries IPv6 addresses only in the "excluded" list.
        lines += ["    virtual_ipaddress_excluded {", *map(_vip_line, v6), "    }"]
    if config.monitor_links:
        # The instance's own interface is tracked unless dont_track_primary says otherwise.
        devices = sorted({v.device for v in vips} - {director.device})
        if devices:
            lines += ["    track_interface {", *(f"        {d}" for d in devices), "    }"]
    else:
        lines.append("    dont_track_primary")
    lines += ["    track_file {", *(f"        {track}" for track in tracks), "    }"]
    for event, state in (("master", "MASTER"), ("backup", "BACKUP"), ("fault", "FAULT")):
        lines.append(f'    notify_{event} "{" ".join([*notify, state])}"')
    lines.append(f'    notify_stop "{" ".join([*notify, "STOP"])}"')
    lines += ["}", ""]
    return "\n".join(lines)


def render_off(reason: str) -> str:
    """The configuration while redundancy is off: no instance, so a keepalived still running
    (until it is stopped) holds no VIP and the worker owns them as before."""
    return f"# Generated by lvsadmin: no VRRP instance ({reason}).\n"


def _vip_line(vip: Vip) -> str:
    # Address labels are IPv4's only: keepalived -t refuses a label on an IPv6 address ("Cannot
    # specify label for IPv6 addresses", exit 5); the IPv6 VIP goes on the alias's base device.
    ipv4 = ipaddress.ip_address(vip.address).version == 4
    label = f" label {vip.label}" if ipv4 and vip.label != vip.device else ""
    return f"        {vip.address}/{vip.prefixlen} dev {vip.device}{label}"


def _device(name: str) -> str:
    if not _DEVICE.match(name):
        raise RedundancyError(f"{name!r} is not an interface name keepalived can take")
    return name


def _word(value: str, what: str) -> str:
    if not _SAFE_WORD.match(value):
        raise RedundancyError(f"the {what} {value!r} has characters keepalived cannot quote")
    return value


def write_if_changed(path: Path, text: str) -> bool:
    """Write atomically (temp file + rename) and only when the content differs: keepalived is
    reloaded only for a real change. True when written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, text, mode=0o644)
    return True


def command(binary: str, conf: Path, pid_file: Path) -> list[str]:
    """keepalived's argv as lvsadmin runs it: VRRP only (no IPVS: the table is the worker's),
    in the foreground for its supervisor, logging to its output, with our pid files."""
    argv = [binary, "--vrrp", "--dont-fork", "--log-console", "--log-detail"]
    return argv + ["-f", str(conf), "-p", str(pid_file), "-r", str(vrrp_pid_file(pid_file))]


def hold_until_ready(ready_file: Path) -> None:
    """Mark the worker not ready, just before keepalived starts: keepalived then stays in FAULT
    until the worker has loaded the IPVS table and writes READY (``mark_ready``). A worker that
    is ready already does so again on its next poll."""
    write_if_changed(ready_file, NOT_READY)


def mark_ready(ready_file: Path) -> bool:
    """The worker's side: the IPVS table is loaded and the sync daemon switched. True when the
    file changed (keepalived leaves FAULT)."""
    return write_if_changed(ready_file, READY)


def before_start(pid_file: Path, ready_file: Path) -> None:
    """What comes right before keepalived starts (``manage.py vrrp --exec-keepalived``, and the
    tests that start it as that command does): the pid files of a dead keepalived removed, the
    worker marked not ready."""
    clear_stale_pid_files(pid_file)
    hold_until_ready(ready_file)


def vrrp_pid_file(pid_file: Path) -> Path:
    return pid_file.with_name("keepalived-vrrp.pid")


def configured(conf: Path) -> bool:
    """True once the worker has written a VRRP configuration there: keepalived starts on it,
    never on an old or empty one by chance."""
    try:
        return "vrrp_instance" in conf.read_text()
    except OSError:
        return False


def live_process(pid: int) -> str | None:
    """The command name of process `pid` if it lives; None if there is none or it is a zombie.

    A keepalived killed with -9 can leave its VRRP child a zombie, its pid still taken: signal 0
    reaches it, and both keepalived ("daemon is already running") and this module took it for a
    running keepalived (seen in the lab, where a director's processes are killed at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ")".
    name, _, rest = stat.partition(" (")[2].rpartition(")")
    return None if rest.split()[:1] == ["Z"] else name


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def clear_stale_pid_files(pid_file: Path) -> list[Path]:
    """Remove keepalived's pid files that name no running keepalived; the files removed.

    They live in the state directory, which survives a reboot, and after one their pids belong
    to other processes: keepalived then refuses to start ("daemon is already running"), and the
    director that came back could never take part (seen in the lab's reboot)."""
    removed = []
    for path in (pid_file, vrrp_pid_file(pid_file)):
        pid = _pid_in(path)
        alive = pid is not None and live_process(pid) == "keepalived"
        if not alive and path.exists():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def running_pid(pid_file: Path) -> int | None:
    """keepalived's pid from its pid file, if that process is alive (a zombie is not)."""
    pid = _pid_in(pid_file)
    return pid if pid is not None and live_process(pid) is not None else None


def reload(pid_file: Path) -> bool:
    """SIGHUP keepalived (it rereads its configuration and keeps its state). False when no
    keepalived runs from that pid file."""
    pid = running_pid(pid_file)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True
