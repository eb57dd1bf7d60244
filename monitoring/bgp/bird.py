"""BIRD 2 as the BGP engine: its configuration written from the published lvs.cf, and the daemon
driven through a control socket of its own (never the system BIRD's).

Django-free: plain data in, text and process calls out. The configuration holds only what
lvsadmin needs: the device protocol, a static protocol holding the announced VIPs (/32), one BGP
session per router with BFD, and an export filter that lets nothing else out.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from virtualservers.lvsconf.model import LvsConfig
from virtualservers.lvsconf.schema import GLOBAL, default, parse_meds

BIRD_TIMEOUT = 10.0  # seconds for one birdc call: it answers at once unless BIRD hangs
# Seconds for a new BIRD to open its socket: one lab run under QEMU's emulation, the machine
# loaded by other VMs, needed more than 10.
BIRD_START_TIMEOUT = 30.0
FILTER = "lvsadmin_export"
STATIC = "lvsadmin_vips"


class BgpError(Exception):
    """The BGP settings cannot be used on this director (the message says why and what to do)."""


@dataclass(frozen=True)
class BgpSettings:
    """The lvs.cf keys of the BGP mode with the schema's defaults filled in."""

    local_as: int
    routers: tuple[str, ...]
    router_as: int
    bfd: bool
    bfd_interval_ms: int
    bfd_multiplier: int
    hold_time: int
    password_file: str | None
    meds: dict[str, int]

    @classmethod
    def from_config(cls, config: LvsConfig) -> BgpSettings:
        if not config.bgp:
            raise BgpError("bgp = 0: this is not a BGP configuration")
        if not config.bgp_local_as or not config.bgp_router or not config.bgp_router_as:
            raise BgpError("bgp = 1 needs bgp_local_as, bgp_router and bgp_router_as")
        routers = tuple(r for r in (config.bgp_router, config.bgp_router2) if r)

        def pick(name: str):
            value = getattr(config, name)
            return default(GLOBAL, name) if value is None else value

        return cls(
            local_as=config.bgp_local_as,
            routers=routers,
            router_as=config.bgp_router_as,
            bfd=pick("bgp_bfd"),
            bfd_interval_ms=pick("bgp_bfd_interval"),
            bfd_multiplier=pick("bgp_bfd_multiplier"),
            hold_time=pick("bgp_hold_time"),
            password_file=config.bgp_password_file,
            meds=parse_meds(config.bgp_med) if config.bgp_med else {},
        )


def source_addresses(routers: Sequence[str], local: Iterable[tuple[str, int]]) -> tuple[str, ...]:
    """This director's address on each router's network, in the routers' order: the BGP
    session's source address (the first is BIRD's router id too). `local` is (address, prefix
    length) for every address on this director; the VIPs (/32 on lo, the same on every
    director) are never in a router's network, so never chosen."""
    local = list(local)
    found = []
    for router in routers:
        target = ipaddress.IPv4Address(router)
        for address, prefix in local:
            try:
                network = ipaddress.IPv4Interface(f"{address}/{prefix}").network
            except ValueError:
                continue  # IPv6
            if prefix < 32 and target in network:
                found.append(address)
                break
        else:
            raise BgpError(
                f"no address of this director is on router {router}'s network: BGP here "
                "needs directly connected routers"
            )
    return tuple(found)


def read_password(path: str) -> str:
    """The MD5 password from its file, which must be root's and unreadable by others (it would
    otherwise be a secret anyone on the director can read)."""
    try:
        info = os.stat(path)
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise BgpError(f"cannot read the BGP password file {path}: {exc.strerror}") from None
    if info.st_uid != 0 or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BgpError(
            f"the BGP password file {path} must be owned by root with mode 0600 "
            "(chown root: FILE; chmod 600 FILE)"
        )
    if not text or any(ch in text for ch in '"\\\n\r'):
        raise BgpError(f"the BGP password in {path} must be one line without quotes or \\")
    return text


def render(
    settings: BgpSettings,
    sources: Sequence[str],
    announced: Iterable[str],
    password: str | None = None,
    comment: str = "",
) -> str:
    """BIRD 2's whole configuration. `source`: this director's address (local_address());
    `announced`: the VIPs to announce now. A change of `announced` alone is applied by
    `birdc configure` without restarting the BGP sessions (only the static protocol and the
    filter change). `sources`: this director's address toward each router (source_addresses());
    the MED is the one lvs.cf gives any of them."""
    vips = sorted({ipaddress.IPv4Address(v) for v in announced})
    source = sources[0]
    med = next((settings.meds[a] for a in sources if a in settings.meds), None)
    lines = [
        "# Written by lvsadmin's worker from lvs.cf; rewritten on every change: do not edit.",
        *(f"# {comment}" for _ in [0] if comment),
        f"router id {source};",
        # A session's `since` with its date and seconds (BIRD's default shows only the time of
        # day for today), so that CONTROL can tell its uptime.
        "timeformat protocol iso long;",
        "",
        "protocol device {",
        "}",
        "",
        "# The VIPs this director can serve now: announced by BGP, never put in a kernel table.",
        f"protocol static {STATIC} {{",
        "  ipv4;",
        *(f"  route {vip}/32 unreachable;" for vip in vips),
        "}",
        "",
        f"filter {FILTER} {{",
    ]
    if vips:
        wanted = ", ".join(f"{vip}/32" for vip in vips)
        lines += [
            f'  if proto = "{STATIC}" && net ~ [ {wanted} ] then {{',
            *([f"    bgp_med = {med};"] if med is not None else []),
            "    accept;",
            "  }",
        ]
    lines += ["  reject;", "}", ""]
    if settings.bfd:
        interval = settings.bfd_interval_ms
        lines += [
            "protocol bfd {",
            '  interface "*" {',
            f"    interval {interval} ms;",
            f"    multiplier {settings.bfd_multiplier};",
            "  };",
            "}",
            "",
        ]
    # BGP's keepalive: a third of the hold time, as RFC 4271 suggests.
    keepalive = max(1, settings.hold_time // 3)
    for number, (router, address) in enumerate(zip(settings.routers, sources, strict=True), 1):
        lines += [
            f"protocol bgp router{number} {{",
            f"  local {address} as {settings.local_as};",
            f"  neighbor {router} as {settings.router_as};",
            f"  hold time {settings.hold_time};",
            f"  keepalive time {keepalive};",
            "  connect retry time 1;",  # back quickly after a router or link comes back
            f"  bfd {'on' if settings.bfd else 'off'};",
            *([f'  password "{password}";'] if password else []),
            "  ipv4 {",
            "    import none;",  # a director needs no route from the router
            f"    export filter {FILTER};",
            "  };",
            "}",
            "",
        ]
    return "\n".join(lines)


# --- the daemon --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    """One line of `birdc show protocols`."""

    name: str
    proto: str
    state: str  # up, down, start
    since: str
    info: str  # BGP's session state: Established, Active, Connect, ...

    @property
    def established(self) -> bool:
        return self.proto == "BGP" and self.state == "up" and self.info.startswith("Established")

    def since_timestamp(self) -> float | None:
        """`since` as a Unix time, when BIRD wrote it as `timeformat protocol iso long` does
        (its local time, which is this host's)."""
        try:
            return datetime.strptime(self.since, "%Y-%m-%d %H:%M:%S").timestamp()
        except ValueError:
            return None


_PROTOCOL_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+(?: \S+)?)\s*(.*)$")


def parse_protocols(text: str) -> list[Protocol]:
    """`birdc show protocols`' table (the header and BIRD's reply codes skipped)."""
    found = []
    for line in text.splitlines():
        if line.startswith(("BIRD ", "Name ")) or not line.strip():
            continue
        match = _PROTOCOL_LINE.match(line.strip())
        if match is None:
            continue
        name, proto, _table, state, since, info = match.groups()
        if re.match(r"^\d{2}:\d{2}:\d{2}", info):  # `since` is a date and a time
            since, info = f"{since} {info[:8]}", info[8:].strip()
        found.append(Protocol(name, proto, state, since, info))
    return found


@dataclass(frozen=True)
class BirdPaths:
    conf: Path
    socket: Path
    pid_file: Path
    bird: str = "bird"
    birdc: str = "birdc"
    setpriv: str = "setpriv"  # util-linux's: ties BIRD's life to the worker's (Bird.start)


class Bird:
    """One BIRD daemon, owned by this director's worker, reached only through its own socket."""

    def __init__(self, paths: BirdPaths) -> None:
        self.paths = paths
        self.process: subprocess.Popen[str] | None = None  # the BIRD this object started

    def _birdc(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.paths.birdc, "-s", str(self.paths.socket), *command],
            capture_output=True,
            text=True,
            timeout=BIRD_TIMEOUT,
            check=False,
        )

    def check(self, conf: Path | None = None) -> str:
        """BIRD's own parser on a configuration: "" when it is fine, else its message."""
        result = subprocess.run(
            [self.paths.bird, "-p", "-c", str(conf or self.paths.conf)],
            capture_output=True,
            text=True,
            timeout=BIRD_TIMEOUT,
            check=False,
        )
        return "" if result.returncode == 0 else (result.stderr or result.stdout).strip()

    def running(self) -> bool:
        try:
            return self._birdc("show", "status").returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def start(self) -> None:
        """BIRD in the foreground as this process's child, under `setpriv --pdeathsig TERM`: the
        kernel sends it SIGTERM the moment the thread that started it dies, however it dies
        (kill -9 included), and BIRD's shutdown on SIGTERM closes its sessions with a Cease, so
        the routers withdraw this director's VIPs at once instead of after the hold time. A
        watchdog on the worker's heartbeat would need a process of its own that could die too,
        and would act only after a heartbeat period; this costs nothing while the worker lives.
        A BIRD already on the socket is not tied to this worker (a worker before this one left
        it): it is stopped first. A bad configuration: an error here, with BIRD's message."""
        problem = self.check()
        if problem:
            raise BgpError(f"bird did not start: {problem}")
        if self.process is None and self.running():
            self.stop()
        self.paths.socket.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.paths.setpriv,
                "--pdeathsig",
                "TERM",
                "--",
                self.paths.bird,
                "-f",
                "-c",
                str(self.paths.conf),
                "-s",
                str(self.paths.socket),
                "-P",
                str(self.paths.pid_file),
            ],  # fmt: skip
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # read only if it exits while starting (BIRD logs to syslog)
            text=True,
        )
        deadline = time.monotonic() + BIRD_START_TIMEOUT
        while not self.running():
            if self.process.poll() is not None:
                _, error = self.process.communicate()
                self.process = None
                raise BgpError(f"bird did not start: {error.strip() or 'it exited at once'}")
            if time.monotonic() > deadline:
                raise BgpError(f"bird did not open its socket {self.paths.socket}")
            time.sleep(0.05)

    def alive(self) -> bool:
        """The BIRD this object started still runs (a dead one is reaped here)."""
        return self.process is not None and self.process.poll() is None

    def configure(self) -> None:
        """Re-read the configuration. BIRD applies a changed static protocol or filter in place:
        the BGP sessions stay up and only the changed routes are sent (announced or withdrawn)."""
        result = self._birdc("configure")
        text = result.stdout + result.stderr
        if result.returncode != 0 or "Reconfigured" not in text and "in progress" not in text:
            raise BgpError(f"birdc configure failed: {text.strip()}")

    def protocols(self) -> list[Protocol]:
        result = self._birdc("show", "protocols")
        if result.returncode != 0:
            raise BgpError(
                f"birdc show protocols failed: {(result.stdout + result.stderr).strip()}"
            )
        return parse_protocols(result.stdout)

    def stop(self) -> None:
        self._birdc("down")
        if self.process is not None:
            try:
                self.process.wait(timeout=BIRD_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
