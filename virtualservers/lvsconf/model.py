"""Plain data for everything an lvs.cf can say.

This is the contract between the GUI (which renders it), the importer (which parses real files into
it) and the worker / applylvs (which turn it into an IPVS table). It is Django-free on purpose:
`applylvs --config FILE` must work on any Piranha file with no database at all.

Convention: a field that is ``None`` was absent from the file and is not written back. The daemons'
defaults for absent keys (which differ from the GUI's defaults for new objects) are exposed as
``effective_*`` properties, so code that acts on a configuration never re-implements them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from virtualservers.lvsconf.schema import (
    GLOBAL,
    LOAD_MONITORS,
    NETWORK_TYPES,
    PIRANHA_SCHEDULERS,
    PROTOCOLS,
    SCHEDULERS,
    SERVER,
    VIRTUAL,
    default,
)

# What the daemons (piranha 0.8.6's lvsconfig.c) use when a key is absent; spelled once, in the
# schema.
DEFAULT_PORT: int = default(VIRTUAL, "port")
DEFAULT_TIMEOUT: int = default(VIRTUAL, "timeout")
DEFAULT_REENTRY: int = default(VIRTUAL, "reentry")
DEFAULT_SCHEDULER: str = default(VIRTUAL, "scheduler")
DEFAULT_PROTOCOL: str = default(VIRTUAL, "protocol")
DEFAULT_ADDRESS: str = default(VIRTUAL, "address")
# The daemons' default; the GUI's default for a new file is "direct".
DEFAULT_NETWORK: str = default(GLOBAL, "network")
DEFAULT_WEIGHT: int = default(SERVER, "weight")
DEFAULT_HEARTBEAT_PORT: int = default(GLOBAL, "heartbeat_port")
DEFAULT_KEEPALIVE: int = default(GLOBAL, "keepalive")
DEFAULT_DEADTIME: int = default(GLOBAL, "deadtime")
DEFAULT_FALL: int = default(VIRTUAL, "fall")
DEFAULT_SLOW_START: bool = default(VIRTUAL, "slow_start")
DEFAULT_PATH_CHECK: bool = default(VIRTUAL, "path_check")
# REDUNDANCY's three modes (LvsConfig.redundancy_mode).
MODE_SINGLE = "single"
MODE_VRRP = "vrrp"  # active + standby, keepalived
MODE_BGP = "bgp"  # active-active, every director announcing the VIPs by BGP

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_DEADTIME",
    "DEFAULT_HEARTBEAT_PORT",
    "DEFAULT_KEEPALIVE",
    "DEFAULT_NETWORK",
    "DEFAULT_PORT",
    "DEFAULT_PROTOCOL",
    "DEFAULT_REENTRY",
    "DEFAULT_SCHEDULER",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WEIGHT",
    "LOAD_MONITORS",
    "NETWORK_TYPES",
    "PIRANHA_SCHEDULERS",
    "PROTOCOLS",
    "SCHEDULERS",
    "FailoverService",
    "LvsConfError",
    "LvsConfig",
    "ParseWarning",
    "RealServer",
    "VirtualServer",
]


@dataclass
class RealServer:
    """A `server NAME { ... }` block inside a virtual."""

    name: str
    address: str | None = None  # absent: 0.0.0.0 for the daemons
    active: bool | None = None  # absent: inactive (parser default 0)
    port: int | None = None  # absent: the virtual's port
    weight: int | None = None  # absent: 1
    # The line each key was read from (by attribute; "name": the block's opening line), so that a
    # check made after parsing (the draft's models) names the line as the parser does. Not part of
    # what the configuration says: equality and repr ignore it.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_active(self) -> bool:
        return bool(self.active)

    @property
    def effective_weight(self) -> int:
        return DEFAULT_WEIGHT if self.weight is None else self.weight


@dataclass
class VirtualServer:
    """A `virtual NAME { ... }` block: one IPVS service plus its health-check parameters.

    Strings (send, expect, send_program) hold the text between the double quotes, with
    backslash escapes left literal, exactly as lvsd hands them to nanny.
    """

    name: str
    active: bool | None = None
    address: str | None = None  # the VIP
    device: str | None = None  # e.g. "eth0:1"; written together with address
    sorry_server: str | None = None
    vip_nmask: str | None = None
    fwmark: int | None = None
    port: int | None = None
    persistent: int | None = None
    pmask: str | None = None
    send: str | None = None
    expect: str | None = None
    use_regex: bool | None = None
    send_program: str | None = None
    load_monitor: str | None = None
    agent_port: int | None = None  # lvsadmin's own: HAProxy's agent check (load_monitor = agent)
    agent_inter: int | None = None
    scheduler: str | None = None
    protocol: str | None = None
    timeout: int | None = None
    reentry: int | None = None
    quiesce_server: bool | None = None
    # Legacy keys the stock parser accepts; kept so that an import loses nothing.
    client_monitor: str | None = None
    # lvsadmin's own keys (schema.py): fall/rise counts, slow start, the check through the
    # forwarding path, HTTP(S) and TLS checks.
    fall: int | None = None
    rise: int | None = None
    slow_start: bool | None = None
    path_check: bool | None = None
    check: str | None = None
    http_method: str | None = None
    http_path: str | None = None
    http_host: str | None = None
    http_status: str | None = None
    http_body: str | None = None
    http_body_regex: bool | None = None
    tls_verify: bool | None = None
    tls_ca: str | None = None
    tls_sni: str | None = None
    servers: list[RealServer] = field(default_factory=list)
    # The line each key was read from (by attribute; "name": the block's opening line), so that a
    # check made after parsing (the draft's models) names the line as the parser does. Not part of
    # what the configuration says: equality and repr ignore it.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_active(self) -> bool:
        return bool(self.active)

    @property
    def effective_port(self) -> int:
        return DEFAULT_PORT if self.port is None else self.port

    @property
    def effective_protocol(self) -> str:
        return self.protocol or DEFAULT_PROTOCOL

    @property
    def effective_scheduler(self) -> str:
        return self.scheduler or DEFAULT_SCHEDULER

    @property
    def effective_timeout(self) -> int:
        return DEFAULT_TIMEOUT if self.timeout is None else self.timeout

    @property
    def effective_reentry(self) -> int:
        return DEFAULT_REENTRY if self.reentry is None else self.reentry

    @property
    def effective_fall(self) -> int:
        return DEFAULT_FALL if self.fall is None else self.fall

    @property
    def effective_rise(self) -> int:
        """nanny's reentry/timeout consecutive successes unless `rise` says otherwise."""
        if self.rise is not None:
            return self.rise
        return max(1, self.effective_reentry // max(1, self.effective_timeout))

    @property
    def effective_slow_start(self) -> bool:
        return DEFAULT_SLOW_START if self.slow_start is None else self.slow_start

    @property
    def effective_path_check(self) -> bool:
        """Whether the real servers are also checked through the forwarding path (it matters
        for direct routing and tunnelling only; see lvsconf/paths.py)."""
        return DEFAULT_PATH_CHECK if self.path_check is None else self.path_check

    @property
    def effective_fwmark(self) -> int:
        return self.fwmark or 0

    @property
    def effective_address(self) -> str:
        return self.address or DEFAULT_ADDRESS


@dataclass(frozen=True, slots=True)
class RealServerRef:
    """A real server as health checks and the kernel table know it: its virtual server's name,
    its address and the port it is checked on (the virtual's port when it has none)."""

    virtual: str
    address: str
    port: int


def real_server_refs(virtual: VirtualServer) -> list[RealServerRef]:
    """The active real servers of a virtual, as the worker checks them."""
    port = virtual.effective_port
    return [
        RealServerRef(virtual.name, server.address or "0.0.0.0", server.port or port)
        for server in virtual.servers
        if server.effective_active
    ]


@dataclass
class FailoverService:
    """A legacy `failover NAME { ... }` block (FOS). Kept verbatim as ordered key/value pairs;
    values are the raw text after `=` (quotes included), since nothing here acts on them."""

    name: str
    items: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class LvsConfig:
    """A whole lvs.cf: the global keys, then failover blocks, then virtual blocks."""

    serial_no: int | None = None
    primary: str | None = None
    primary_private: str | None = None
    primary_shared: str | None = None
    service: str | None = None  # "lvs" or "fos"
    rsh_command: str | None = None
    backup_active: bool | None = None
    backup: str | None = None
    backup_private: str | None = None
    backup_shared: str | None = None
    heartbeat: bool | None = None
    heartbeat_port: int | None = None
    keepalive: int | None = None
    deadtime: int | None = None
    network: str | None = None
    nat_router_ip: str | None = None  # `nat_router = IP DEVICE`
    nat_router_device: str | None = None
    nat_nmask: str | None = None
    reservation_conflict_action: str | None = None
    debug_level: str | None = None
    monitor_links: bool | None = None
    syncdaemon: bool | None = None
    syncd_iface: str | None = None
    syncd_id: int | None = None
    tcp_timeout: int | None = None
    tcpfin_timeout: int | None = None
    udp_timeout: int | None = None
    # Keys the stock GUI never writes but the parser accepts (written after the GUI's keys).
    hard_shutdown: bool | None = None
    active_cmd: str | None = None
    inactive_cmd: str | None = None
    ipvsadm: str | None = None
    sync: bool | None = None
    # Directors active at once (BGP), lvsadmin's own keys; monitoring/bgp reads them.
    bgp: bool | None = None
    bgp_local_as: int | None = None
    bgp_router: str | None = None
    bgp_router2: str | None = None
    bgp_router_as: int | None = None
    bgp_bfd: bool | None = None
    bgp_bfd_interval: int | None = None
    bgp_bfd_multiplier: int | None = None
    bgp_hold_time: int | None = None
    bgp_password_file: str | None = None
    bgp_med: str | None = None  # `DIRECTOR=MED,...` (schema.parse_meds)
    failovers: list[FailoverService] = field(default_factory=list)
    virtuals: list[VirtualServer] = field(default_factory=list)
    # The line each key was read from (by attribute), so that a
    # check made after parsing (the draft's models) names the line as the parser does. Not part of
    # what the configuration says: equality and repr ignore it.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_network(self) -> str:
        return self.network or DEFAULT_NETWORK

    @property
    def redundant(self) -> bool:
        """Two directors share the VIPs: ``backup_active = 1`` with a backup address (pulse ran
        alone when the backup was 0.0.0.0). Then VRRP (keepalived) holds the VIPs, not the
        worker. Never in BGP mode, where every director serves at once."""
        if self.bgp:
            return False
        return bool(self.backup_active) and bool(self.backup) and self.backup != "0.0.0.0"

    @property
    def redundancy_mode(self) -> str:
        """single, vrrp (active + standby through keepalived) or bgp (active-active)."""
        if self.bgp:
            return MODE_BGP
        return MODE_VRRP if self.redundant else MODE_SINGLE


@dataclass(frozen=True)
class ParseWarning:
    """Something the stock parser accepts but that probably does not mean what the author thinks."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class LvsConfError(ValueError):
    """A file the stock parser would refuse; `line` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
