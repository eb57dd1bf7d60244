"""The lvs.cf schema: every key once, with its kind, range, daemon default, section and order.

The parser, the renderer, the effective defaults of the model and the mapping to the Django draft
all read this table; adding a key means adding a row here (and a field to the dataclass in
model.py and, if the GUI edits it, to the Django model).

Ranges come in two strengths, decided per key:

* ``limits``: outside them the kernel or the netlink packer would break (a weight that does not fit
  IPVS's 0-65535, a port outside 1-65535, a negative timeout, a firewall mark wider than 32 bits, a
  sync id wider than a byte). The parser refuses such a value, naming the line.
* ``gui``: the range the GUI's forms enforce (the Django models read their validators from it).
  pulse runs happily outside it (a 0-second heartbeat interval, a check timeout of a day and more),
  so a file carrying such a value is read, the value kept, and a warning names the line.

Order inside each section is piranha-gui's layout, which is the order the renderer writes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

GLOBAL = "global"
VIRTUAL = "virtual"
SERVER = "server"

# Which draft model holds a key (Key.home): the model field has the key's attribute name.
# GLOBAL SETTINGS, REDUNDANCY, VIRTUAL SERVER, MONITORING SCRIPTS and REAL SERVER each store
# their keys; BY_HAND keys are mapped by the draft's own code: serial_no (the publish counter,
# not stored), a virtual block's address line (whether the file had one is a column of its own),
# fwmark (0 means none) and check (the monitoring script's kind).
IN_SETTINGS = "GlobalSettings"
IN_REDUNDANCY = "Redundancy"
IN_VIRTUAL = "VirtualServer"
IN_SCRIPT = "MonitoringScript"
IN_SERVER = "RealServer"
BY_HAND = "by hand"
_SECTION_HOME = {GLOBAL: IN_SETTINGS, VIRTUAL: IN_VIRTUAL, SERVER: IN_SERVER}

NETWORK_TYPES = ("direct", "nat", "tunnel")
PROTOCOLS = ("tcp", "udp")
SERVICES = ("lvs", "fos")
# Every scheduler the Linux IPVS code offers, in the order the form shows them.
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh")
# The eight a stock piranha 0.8.6 parser accepts; the others break compatibility with real pulse.
PIRANHA_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh")
# Piranha's four, then lvsadmin's own (written only when chosen): HAProxy's agent check and the
# built-in MySQL check's load figures. rup and ruptime are read (and do nothing): their daemons
# are gone from every current distribution.
LOAD_MONITORS = ("none", "rup", "ruptime", "uptime", "agent", "mysql")
RETIRED_LOAD_MONITORS = ("rup", "ruptime")
# lvsadmin's own check types, named by the `check` key (absent: nanny's send/expect or program).
CHECK_TYPES = ("http", "https", "tls")
HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST")
# HAProxy's default for an HTTP check: any 2xx or 3xx answer is a live server.
DEFAULT_HTTP_STATUS = "200-399"
# How many consecutive failures or successes a count may ask for.
MAX_CHECK_COUNT = 1000

# BGP (RFC 6793: four-octet AS numbers; 0 is reserved).
MAX_AS = 2**32 - 1

# Seconds the kernel and pulse keep in a signed 32-bit integer.
MAX_SECONDS = 2**31 - 1
# What the forms allow for a health-check interval or re-entry time: a day.
MAX_CHECK_SECONDS = 86400


@dataclass(frozen=True)
class Range:
    low: int
    high: int

    def __contains__(self, value: int) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


PORTS = Range(1, 65535)
SECONDS = Range(0, MAX_SECONDS)
AS_NUMBERS = Range(1, MAX_AS)
# BGP's hold time is 0 (no keepalives: a dead director is never noticed) or at least 3 s
# (RFC 4271 4.2); lvsadmin refuses 0.
HOLD_TIMES = Range(3, 65535)
# BFD intervals in milliseconds: below 10 ms a busy director misses its own packets.
BFD_INTERVALS = Range(10, 60000)


@dataclass(frozen=True)
class Key:
    """One `key = value` of lvs.cf.

    kind says how the value is read and written:
      int      strtol(..., 0) integer (hex, octal with a warning)
      bool     0 or 1
      intbool  an integer read as a flag (pulse's atoi); written 0/1
      port     an integer or a TCP service name (/etc/services)
      rport    an integer port (real servers take no service names)
      ip       an address (a host name, which pulse resolved at start, is refused: nothing here
               resolves names, and the kernel's table holds addresses)
      dotted   an address only
      mask     a dotted netmask
      choice   one word of `choices`
      load_monitor  one word; one not in `choices` is kept with a warning (pulse took any)
      word     one word, kept as written
      quoted   a double-quoted string, stored without its quotes
      raw      a token kept exactly as written, quotes included (commands pulse splits itself)
      pair     `IP DEVICE`: the address in `attr`, the device in `second`
      statuses HTTP status codes and ranges, `200-299,301`
      meds     a MED per director, `192.0.2.1=10,192.0.2.2=20` (parse_meds)
    """

    name: str
    attr: str
    kind: str
    section: str
    # What the daemons use when the key is absent (None: nothing, or nothing lvsadmin acts on).
    default: object = None
    limits: Range | None = None
    gui: Range | None = None
    choices: tuple[str, ...] = ()
    second: str | None = None
    # The draft model that holds it (IN_*), or BY_HAND; _key() fills in the section's model.
    home: str = ""

    @property
    def values(self) -> int:
        """How many words follow the `=`."""
        return 2 if self.second else 1

    def check(self, value: int) -> tuple[bool, str] | None:
        """None when `value` is fine; else (fatal, reason): fatal when outside `limits`, a warning
        (the value is kept) when only outside the GUI's range."""
        if self.limits is not None and value not in self.limits:
            return True, f"invalid argument: {self.name} {value} is outside {self.limits}"
        if self.gui is not None and value not in self.gui:
            return False, (
                f"{self.name} {value} is outside {self.gui}: kept as pulse would run it, "
                "but the GUI's form refuses it"
            )
        return None


def _key(section: str, name: str, kind: str, **options) -> Key:
    attr = options.pop("attr", name)
    options.setdefault("home", _SECTION_HOME[section])
    return Key(name=name, attr=attr, kind=kind, section=section, **options)


def _redundancy(name: str, kind: str, **options) -> Key:
    """A global key the REDUNDANCY page edits."""
    return _key(GLOBAL, name, kind, home=IN_REDUNDANCY, **options)


def _check(name: str, kind: str, **options) -> Key:
    """A virtual block's key the MONITORING SCRIPTS subtab edits."""
    return _key(VIRTUAL, name, kind, home=options.pop("home", IN_SCRIPT), **options)


KEYS: tuple[Key, ...] = (
    # --- the global section, in piranha-gui's order; the hand-edit-only keys last -------------
    _key(GLOBAL, "serial_no", "int", default=0, home=BY_HAND),
    _key(GLOBAL, "primary", "ip", default="0.0.0.0"),
    _key(GLOBAL, "primary_private", "ip"),
    _key(GLOBAL, "primary_shared", "word"),
    _key(GLOBAL, "service", "choice", default="lvs", choices=SERVICES),
    _key(GLOBAL, "rsh_command", "word", default="rsh"),
    _redundancy("backup_active", "bool", default=False),
    _redundancy("backup", "ip"),
    _redundancy("backup_private", "ip"),
    _redundancy("backup_shared", "word"),
    _redundancy("heartbeat", "bool", default=False),
    _redundancy("heartbeat_port", "port", default=539, limits=PORTS, gui=PORTS),
    # pulse sleeps `keepalive` between heartbeats: 0 busy-loops but runs, so only a warning.
    _redundancy("keepalive", "int", default=2, limits=SECONDS, gui=Range(1, MAX_SECONDS)),
    _redundancy("deadtime", "int", default=5, limits=SECONDS, gui=Range(1, MAX_SECONDS)),
    # The daemons default to nat; the GUI's default for a new file is direct.
    _key(GLOBAL, "network", "choice", default="nat", choices=NETWORK_TYPES),
    _key(GLOBAL, "nat_router", "pair", attr="nat_router_ip", second="nat_router_device"),
    _key(GLOBAL, "nat_nmask", "mask"),
    _key(GLOBAL, "reservation_conflict_action", "word"),
    _key(GLOBAL, "debug_level", "word", default="NONE"),
    _redundancy("monitor_links", "intbool", default=False),
    _redundancy("syncdaemon", "bool", default=False),
    _redundancy("syncd_iface", "word", default="eth0"),
    # The kernel's sync id is one byte (pulse masks it with 0xff; we refuse rather than wrap).
    _redundancy("syncd_id", "int", default=0, limits=Range(0, 255), gui=Range(0, 255)),
    # 0 = leave the kernel's timeout unchanged; negative breaks `ipvsadm --set` and netlink.
    _key(GLOBAL, "tcp_timeout", "int", default=0, limits=SECONDS, gui=SECONDS),
    _key(GLOBAL, "tcpfin_timeout", "int", default=0, limits=SECONDS, gui=SECONDS),
    _key(GLOBAL, "udp_timeout", "int", default=0, limits=SECONDS, gui=SECONDS),
    _key(GLOBAL, "hard_shutdown", "bool", default=True),
    _key(GLOBAL, "active_cmd", "raw"),
    _key(GLOBAL, "inactive_cmd", "raw"),
    _key(GLOBAL, "ipvsadm", "word", default="/sbin/ipvsadm"),
    _key(GLOBAL, "sync", "bool", default=False),
    # lvsadmin's own keys for directors active at once (BGP): absent unless the mode is on, so
    # a Piranha file stays byte-identical. bgp = 1 is the third REDUNDANCY mode; backup_active
    # and keepalived then play no part. The MD5 password is never here: only the path of a
    # root-owned file holding it.
    _redundancy("bgp", "bool", default=False),
    _redundancy("bgp_local_as", "int", limits=AS_NUMBERS, gui=AS_NUMBERS),
    _redundancy("bgp_router", "dotted"),
    _redundancy("bgp_router2", "dotted"),
    _redundancy("bgp_router_as", "int", limits=AS_NUMBERS, gui=AS_NUMBERS),
    _redundancy("bgp_bfd", "bool", default=True),
    _redundancy("bgp_bfd_interval", "int", default=100, limits=BFD_INTERVALS, gui=BFD_INTERVALS),
    _redundancy("bgp_bfd_multiplier", "int", default=3, limits=Range(1, 255), gui=Range(1, 255)),
    _redundancy("bgp_hold_time", "int", default=9, limits=HOLD_TIMES, gui=HOLD_TIMES),
    _redundancy("bgp_password_file", "word"),
    _redundancy("bgp_med", "meds"),
    # --- a virtual block ------------------------------------------------------------------------
    _key(VIRTUAL, "active", "bool", default=False),
    _key(VIRTUAL, "address", "pair", default="0.0.0.0", second="device", home=BY_HAND),
    _key(VIRTUAL, "sorry_server", "dotted"),
    _key(VIRTUAL, "vip_nmask", "mask"),
    # 0 means "no mark" to pulse (and is stored as absent by the GUI); wider than 32 bits cannot
    # be packed.
    _key(
        VIRTUAL,
        "fwmark",
        "int",
        default=0,
        limits=Range(0, 2**32 - 1),
        gui=Range(1, 2**32 - 1),
        home=BY_HAND,
    ),
    _key(VIRTUAL, "port", "port", default=80, limits=PORTS, gui=PORTS),
    _key(VIRTUAL, "persistent", "int", default=0, limits=SECONDS, gui=SECONDS),
    _key(VIRTUAL, "pmask", "mask"),
    _check("send", "quoted"),
    _check("expect", "quoted"),
    _check("use_regex", "bool", default=False),
    _check("send_program", "quoted"),
    # The stock parser takes any word here (nanny ignores what it does not know): lvsadmin keeps
    # an unknown one with a warning naming the line (parse.py).
    _key(VIRTUAL, "load_monitor", "load_monitor", default="none", choices=LOAD_MONITORS),
    # lvsadmin's own: the port and interval (seconds) of HAProxy's agent check, for
    # load_monitor = agent (written only then).
    _key(VIRTUAL, "agent_port", "rport", limits=PORTS, gui=PORTS),
    _key(
        VIRTUAL,
        "agent_inter",
        "int",
        default=2,
        limits=Range(1, MAX_SECONDS),
        gui=Range(1, MAX_CHECK_SECONDS),
    ),
    _key(VIRTUAL, "scheduler", "scheduler", default="wlc", choices=SCHEDULERS),
    _key(VIRTUAL, "protocol", "choice", default="tcp", choices=PROTOCOLS),
    # A 0-second or week-long check interval runs under pulse: kept with a warning.
    _key(VIRTUAL, "timeout", "int", default=10, limits=SECONDS, gui=Range(1, MAX_CHECK_SECONDS)),
    _key(VIRTUAL, "reentry", "int", default=180, limits=SECONDS, gui=Range(0, MAX_CHECK_SECONDS)),
    _key(VIRTUAL, "quiesce_server", "bool", default=False),
    _key(VIRTUAL, "client_monitor", "word"),
    # lvsadmin's own keys (Piranha had none for these; a stock pulse refuses a file that has
    # them, so they are written only when they differ from the default).
    # Consecutive failed checks that take a real server out (nanny: one).
    _check(
        "fall",
        "int",
        default=1,
        limits=Range(1, MAX_CHECK_COUNT),
        gui=Range(1, MAX_CHECK_COUNT),
    ),
    # Consecutive good checks that bring it back (absent: reentry / timeout, as nanny).
    _check("rise", "int", limits=Range(1, MAX_CHECK_COUNT), gui=Range(1, MAX_CHECK_COUNT)),
    # nanny's slow start (weight/32, doubling about every 20 s); 0 puts a server in at full weight.
    _check("slow_start", "bool", default=True),
    # Check each real server through the forwarding path too (direct routing and tunnelling:
    # a private firewall-mark service per real server, see lvsconf/paths.py); 0 turns it off.
    _check("path_check", "bool", default=True),
    _check("check", "choice", choices=CHECK_TYPES, home=BY_HAND),
    _check("http_method", "choice", default="GET", choices=HTTP_METHODS),
    _check("http_path", "word", default="/"),
    _check("http_host", "word"),
    _check("http_status", "statuses", default=DEFAULT_HTTP_STATUS),
    _check("http_body", "quoted"),
    _check("http_body_regex", "bool", default=False),
    _check("tls_verify", "bool", default=False),
    _check("tls_ca", "word"),
    _check("tls_sni", "word"),
    # --- a server block -------------------------------------------------------------------------
    _key(SERVER, "address", "ip", default="0.0.0.0"),
    _key(SERVER, "active", "bool", default=False),
    _key(SERVER, "port", "rport", limits=PORTS, gui=PORTS),  # absent: the virtual's port
    # IPVS weights are 0-65535; anything else the kernel refuses (or the packer cannot pack).
    _key(SERVER, "weight", "int", default=1, limits=Range(0, 65535), gui=Range(0, 65535)),
)

SECTIONS: dict[str, tuple[Key, ...]] = {
    section: tuple(k for k in KEYS if k.section == section) for section in (GLOBAL, VIRTUAL, SERVER)
}
BY_NAME: dict[str, dict[str, Key]] = {
    section: {k.name: k for k in keys} for section, keys in SECTIONS.items()
}
# The settings of the HTTP(S) and TLS checks (the keys `check` = http, https or tls uses), in
# the schema's order: the monitoring script's fields, the draft mapping and the probes read them.
WEB_CHECK_KEYS: tuple[str, ...] = tuple(
    k.name for k in SECTIONS[VIRTUAL] if k.name.startswith(("http_", "tls_"))
)


# The built-in MySQL check's settings: what lvs.cf cannot hold (a password has no place in a file
# pulse reads). They are MonitoringScript's fields of these names, and travel beside lvs.cf in one
# declared place: a published revision's `checks` (Revision.checks[virtual name], with the
# check's kind), which the worker reads; the probes' CheckSpec has the same fields.
BUILTIN_CHECK_SETTINGS: tuple[str, ...] = (
    "mysql_user",
    "mysql_password",
    "mysql_database",
    "mysql_query",
    "mysql_expect",
)


def attrs_held_by(section: str, home: str) -> tuple[str, ...]:
    """The dataclass attributes (the model's field names) of the keys of `section` that the
    draft model `home` holds, in the schema's order."""
    return tuple(
        name for k in SECTIONS[section] if k.home == home for name in (k.attr, k.second) if name
    )


def parse_statuses(text: str) -> tuple[tuple[int, int], ...]:
    """`200-299,301` as ((200, 299), (301, 301)); ValueError saying what is wrong."""
    ranges = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not (
            low.isdigit() and low.isascii() and (not dash or (high.isdigit() and high.isascii()))
        ):
            raise ValueError(f"{part!r} is not a status code or a range such as 200-299")
        first, last = int(low), int(high) if dash else int(low)
        if not 100 <= first <= last <= 599:
            raise ValueError(f"{part!r}: status codes are 100-599, the lower first")
        ranges.append((first, last))
    return tuple(ranges)


def parse_meds(text: str) -> dict[str, int]:
    """`192.0.2.1=10,192.0.2.2=20` (a director's own address, its MED: the router prefers the
    lowest) as a dict; ValueError saying what is wrong. One lvs.cf serves every director, so a
    per-director value is keyed by the address each director finds on its interfaces."""
    meds: dict[str, int] = {}
    for part in text.split(","):
        address, equals, value = part.partition("=")
        try:
            canonical = str(ipaddress.IPv4Address(address))
        except ValueError:
            raise ValueError(f"{part!r}: expected DIRECTOR_IPV4=MED") from None
        if not equals or not (value.isdigit() and value.isascii()) or int(value) > MAX_AS:
            raise ValueError(f"{part!r}: the MED is a number 0-{MAX_AS}")
        if canonical in meds:
            raise ValueError(f"{address} is named twice")
        meds[canonical] = int(value)
    return meds


def key(section: str, name: str) -> Key:
    """The schema row of `name` in `section` (KeyError for a key lvs.cf does not have)."""
    return BY_NAME[section][name]


def default(section: str, name: str):
    """What the daemons use when `name` is absent from `section`."""
    return BY_NAME[section][name].default


def gui_range(section: str, name: str) -> Range:
    """The range the GUI's forms (and the Django models' validators) allow for `name`."""
    found = BY_NAME[section][name].gui
    if found is None:
        raise KeyError(f"{section} {name} has no range")
    return found
