"""The lab network inside the VM: a director, a client and two MariaDB real servers.

Everything here runs as root inside the lab VM (see scripts/lab.sh); it changes the guest's
network, which vanishes with the VM. Only TEST-NET addresses are used.

Layout (the guest's root namespace is the director)::

    namespace "client"  192.0.2.10 ---+
    namespace "rs1"     192.0.2.241 --+-- br0 (director 192.0.2.1/24; VIPs go here, e.g. br0:1)
    namespace "rs2"     192.0.2.242 --+
    namespace "outside" 198.51.100.10 --- br1 (director 198.51.100.1/24; NAT VIPs, e.g. br1:1)

- Direct routing: each real server has the VIP 192.0.2.240/32 on `lo` with arp_ignore=1 and
  arp_announce=2 (piranha.md 5.1, method 3), so only the director answers ARP for it, and the
  real servers reply straight to the client on the shared segment.
- NAT: the client in "outside" is on another subnet; the real servers route 198.51.100.0/24 via
  the nat_router address 192.0.2.254, which applylvs brings up on the director (br0:2).

Each real server runs a real `mariadbd` on port 3306 inside its namespace (data on the guest's
tmpfs), with a user `lab` allowed from anywhere; `SELECT @@server_id` names the server that
answered (241 for rs1, 242 for rs2, the last octet of its address).

Reusable by other lab tests (the worker's end-to-end test, for one): take the session fixture
`topology` from conftest.py, then `topology.mariadb["rs1"].stop()` / `.kill()` / `.start()`.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pymysql

T = TypeVar("T")

# Director side.
BRIDGE = "br0"
DIRECTOR_IP = "192.0.2.1"
PUBLIC_BRIDGE = "br1"
PUBLIC_DIRECTOR_IP = "198.51.100.1"

# Direct routing: the VIP shared by the director (added by applylvs) and the real servers' lo.
VIP = "192.0.2.240"
# NAT: the public VIP on br1 and the real servers' gateway on br0, both added by applylvs.
NAT_VIP = "198.51.100.240"
NAT_ROUTER = "192.0.2.254"

CLIENT = "client"
CLIENT_IP = "192.0.2.10"
OUTSIDE = "outside"
OUTSIDE_IP = "198.51.100.10"

REAL_SERVERS = {"rs1": "192.0.2.241", "rs2": "192.0.2.242"}
MYSQL_PORT = 3306
MYSQL_USER = "lab"
MYSQL_PASSWORD = "lab-password"

# What `SELECT @@server_id` answers -> which real server answered.
SERVER_IDS = {int(address.rsplit(".", 1)[1]): name for name, address in REAL_SERVERS.items()}

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def run(
    *argv: str, ns: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command (in namespace `ns` if given) and return its output; raise with its stderr
    when `check` and it fails, so that a broken setup step says what broke."""
    command = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


def sysctl(name: str, value: str, ns: str | None = None) -> None:
    """Write a sysctl directly through /proc (in `ns` if given; /proc/sys/net is per namespace
    of the process, so a namespace's value needs a process inside it)."""
    if ns is None:
        Path("/proc/sys", *name.split(".")).write_text(value)
    else:
        run("sysctl", "-q", "-w", f"{name}={value}", ns=ns)


def read_sysctl(name: str) -> str:
    return Path("/proc/sys", *name.split(".")).read_text().strip()


def call_in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Call `fn` in a thread that has entered network namespace `ns`, and return its result.

    Sockets belong to the namespace they were created in, for life: a PyMySQL connection made by
    `fn` keeps talking from inside `ns` when used later from any thread. This spares a Python
    start-up per client (several seconds under TCG). setns(CLONE_NEWNET) is per thread and
    allowed in a multithreaded process.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns into {ns}: {os.strerror(errno)}")
            finally:
                os.close(fd)
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{ns}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def mysql_connect(
    host: str, ns: str | None = CLIENT, timeout: float = 10, **kwargs: object
) -> pymysql.connections.Connection:
    """A PyMySQL connection as user `lab` to host:3306, made from inside namespace `ns`
    (None: from the director's own namespace)."""

    def connect() -> pymysql.connections.Connection:
        return pymysql.connect(
            host=host,
            port=MYSQL_PORT,
            user=MYSQL_USER,
            password=MYSQL_PASSWORD,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            **kwargs,
        )

    return connect() if ns is None else call_in_netns(ns, connect)


def query_one(connection: pymysql.connections.Connection, sql: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    assert row is not None, sql
    return row


def which_server(connection: pymysql.connections.Connection) -> str:
    """The real server ("rs1", "rs2") at the other end of a connection."""
    (server_id,) = query_one(connection, "SELECT @@server_id")
    return SERVER_IDS[int(server_id)]


def mariadb_cli(host: str, sql: str, ns: str = CLIENT) -> str:
    """Run the real `mariadb` command-line client in namespace `ns`; return its batch output."""
    command = [
        "ip", "netns", "exec", ns,
        "mariadb", f"--host={host}", f"--port={MYSQL_PORT}", f"--user={MYSQL_USER}",
        "--connect-timeout=10", "--batch", "--skip-column-names", f"--execute={sql}",
    ]  # fmt: skip
    # The password through the environment keeps it out of the process list.
    env = {**os.environ, "MYSQL_PWD": MYSQL_PASSWORD}
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"mariadb client to {host} failed: {result.stderr.strip()}\n{path_state(host, ns)}"
        )
    return result.stdout


def path_state(host: str, ns: str) -> str:
    """What a failed connection's path looked like: who `ns` thinks has `host`, what is on the
    bridge, and the director's table (a lab failure otherwise leaves nothing to read)."""
    probes = {
        f"{ns}: ip neigh show to {host}": ("ip", "neigh", "show", "to", host),
        f"{ns}: ip route get {host}": ("ip", "route", "get", host),
    }
    lines = []
    for title, argv in probes.items():
        lines.append(f"-- {title}\n{run(*argv, ns=ns, check=False).stdout.strip()}")
    for title, argv in {
        "director: ip -br link show master br0": ("ip", "-br", "link", "show", "master", BRIDGE),
        "director: ipvsadm -Ln": ("ipvsadm", "-Ln"),
    }.items():
        lines.append(f"-- {title}\n{run(*argv, check=False).stdout.strip()}")
    return "\n".join(lines)


def _interface_names() -> set[str]:
    links = json.loads(run("ip", "-j", "link", "show").stdout)
    return {link["ifname"] for link in links}


# The bridges' own MACs, fixed: a bridge left to choose takes its lowest port's, so a test
# that plugs a namespace in (two directors, BGP) and out again would change the director's
# MAC under the client's neighbour entry, as no real NIC does.
BRIDGE_MACS = {BRIDGE: "02:00:00:00:02:01", PUBLIC_BRIDGE: "02:00:00:00:03:01"}


def add_bridge(name: str, cidr: str) -> None:
    run("ip", "link", "add", name, "address", BRIDGE_MACS[name], "type", "bridge")
    run("ip", "addr", "add", cidr, "dev", name)
    run("ip", "link", "set", name, "up")


def add_namespace(ns: str, bridge: str, cidr: str, gateway: str | None = None) -> None:
    """A namespace with one interface `eth0` at `cidr`, wired by a veth pair into `bridge`."""
    host_side = f"v-{ns}"
    run("ip", "netns", "add", ns)
    run("ip", "link", "add", host_side, "type", "veth", "peer", "name", "eth0", "netns", ns)
    run("ip", "link", "set", host_side, "master", bridge, "up")
    run("ip", "link", "set", "lo", "up", ns=ns)
    run("ip", "addr", "add", cidr, "dev", "eth0", ns=ns)
    run("ip", "link", "set", "eth0", "up", ns=ns)
    if gateway:
        run("ip", "route", "add", "default", "via", gateway, ns=ns)


def prepare_real_server(ns: str) -> None:
    """Make a namespace a real server for both DR and NAT (piranha.md 5.1 and 5.2)."""
    # DR: accept packets for the VIP without ever answering ARP for it.
    for scope in ("all", "eth0", "lo"):
        sysctl(f"net.ipv4.conf.{scope}.arp_ignore", "1", ns=ns)
        sysctl(f"net.ipv4.conf.{scope}.arp_announce", "2", ns=ns)
    run("ip", "addr", "add", f"{VIP}/32", "dev", "lo", ns=ns)
    # NAT: replies to the outside client go back through the director's nat_router address,
    # which only exists while a NAT configuration is applied.
    run("ip", "route", "add", "198.51.100.0/24", "via", NAT_ROUTER, ns=ns)


@dataclass
class MariaDB:
    """One `mariadbd` inside a real server's namespace, data on the guest's tmpfs.

    `start()` returns once the server accepts a login over the network; `stop()` is a clean
    shutdown (SIGTERM), `kill()` a crash (SIGKILL). Both leave the data in place, so `start()`
    brings the same server back.
    """

    name: str
    address: str
    base_dir: Path
    init_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def server_id(self) -> int:
        return int(self.address.rsplit(".", 1)[1])

    @property
    def datadir(self) -> Path:
        return self.base_dir / "data"

    @property
    def error_log(self) -> Path:
        return self.base_dir / "error.log"

    def create(self, template: Path) -> None:
        """A fresh data directory: a copy of the template made once by mariadb-install-db."""
        shutil.copytree(template, self.datadir)

    def argv(self) -> list[str]:
        return [
            "ip", "netns", "exec", self.name,
            "mariadbd", "--no-defaults", "--user=root",
            f"--datadir={self.datadir}",
            f"--socket={self.base_dir / 'mysqld.sock'}",
            f"--pid-file={self.base_dir / 'mysqld.pid'}",
            f"--port={MYSQL_PORT}", "--bind-address=0.0.0.0",
            f"--server-id={self.server_id}",
            # No DNS in the lab: without this every login waits for a reverse lookup.
            "--skip-name-resolve", "--skip-log-bin",
            # The failover benchmark's probes hang up after the greeting: an aborted handshake,
            # which MariaDB may count against the client's host and block it after 100.
            "--max-connect-errors=1000000000",
            "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M",
            f"--init-file={self.init_file}",
            f"--log-error={self.error_log}",
        ]  # fmt: skip

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, wait: float = 90) -> None:
        """Start the server (if it is not running) and wait until it accepts logins."""
        self.launch()
        self.wait_ready(wait)

    def launch(self) -> None:
        """Start the server without waiting for it."""
        if self.running:
            return
        self.process = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, wait: float = 90) -> None:
        """Poll until `lab` can log in over TCP from the director's namespace (which reaches the
        real server's own address directly, not through IPVS)."""
        deadline = time.monotonic() + wait
        while True:
            if not self.running:
                raise RuntimeError(f"mariadbd in {self.name} exited:\n{self.log_tail()}")
            try:
                connection = mysql_connect(self.address, ns=None, timeout=5)
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mariadbd in {self.name} not answering after {wait}s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.5)
                continue
            connection.close()
            return

    def stop(self, timeout: float = 60) -> None:
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        self._signal(signal.SIGKILL, 30)

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        if not self.running:
            return
        assert self.process is not None
        # `ip netns exec` execs mariadbd, so the process is mariadbd itself.
        self.process.send_signal(sig)
        self.process.wait(timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.error_log.read_text().splitlines()[-lines:])
        except OSError:
            return "(no error log)"


@dataclass
class Topology:
    """The built lab; see the module docstring."""

    base_dir: Path
    mariadb: dict[str, MariaDB] = field(default_factory=dict)

    def start_all(self) -> None:
        """Start every real server's MariaDB, all at once (each takes seconds under TCG)."""
        for server in self.mariadb.values():
            server.launch()
        for server in self.mariadb.values():
            server.wait_ready()

    def stop_all(self) -> None:
        for server in self.mariadb.values():
            server.stop()


def build(base_dir: Path) -> Topology:
    """Create bridges, namespaces and MariaDB data directories (not yet started)."""
    if not Path("/proc/net/ip_vs").exists():
        raise RuntimeError(
            "no IPVS in this kernel (/proc/net/ip_vs is missing): the lab tests run inside the "
            "VM; use scripts/lab.sh (make test-lab), not pytest on the host"
        )
    existing = _interface_names()
    if BRIDGE in existing or PUBLIC_BRIDGE in existing:
        raise RuntimeError(f"{BRIDGE}/{PUBLIC_BRIDGE} exist already: the lab builds them once")
    add_bridge(BRIDGE, f"{DIRECTOR_IP}/24")
    add_bridge(PUBLIC_BRIDGE, f"{PUBLIC_DIRECTOR_IP}/24")
    add_namespace(CLIENT, BRIDGE, f"{CLIENT_IP}/24")
    add_namespace(OUTSIDE, PUBLIC_BRIDGE, f"{OUTSIDE_IP}/24", gateway=PUBLIC_DIRECTOR_IP)
    for name, address in REAL_SERVERS.items():
        add_namespace(name, BRIDGE, f"{address}/24")
        prepare_real_server(name)

    topology = Topology(base_dir=base_dir)
    template = base_dir / "mariadb-template"
    run(
        "mariadb-install-db", "--no-defaults", f"--datadir={template}", "--user=root",
        "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve",
        "--innodb-log-file-size=8M",
    )  # fmt: skip
    init_file = base_dir / "init.sql"
    init_file.write_text(
        f"CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}';\n"
        f"GRANT ALL PRIVILEGES ON *.* TO '{MYSQL_USER}'@'%';\n"
    )
    for name, address in REAL_SERVERS.items():
        server = MariaDB(name, address, base_dir / name, init_file)
        server.create(template)
        topology.mariadb[name] = server
    return topology


def teardown(topology: Topology) -> None:
    """Stop the MariaDB servers (the network goes away with the VM)."""
    for server in topology.mariadb.values():
        try:
            server.stop(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def addresses(device: str) -> list[tuple[str, int, str]]:
    """IPv4 addresses on `device` as (address, prefix length, label)."""
    info = json.loads(run("ip", "-j", "-4", "addr", "show", "dev", device).stdout)
    return [
        (entry["local"], entry["prefixlen"], entry.get("label", device))
        for link in info
        for entry in link.get("addr_info", [])
    ]


# The bridges' ports that the topology itself plugs in (add_namespace's host side).
TOPOLOGY_PORTS = {f"v-{ns}" for ns in (CLIENT, OUTSIDE, *REAL_SERVERS)}


def bridge_ports(bridge: str) -> set[str]:
    links = json.loads(run("ip", "-j", "link", "show", "master", bridge).stdout)
    return {link["ifname"] for link in links}


def reset_director(keep: Sequence[tuple[str, str]] = ((BRIDGE, DIRECTOR_IP),)) -> None:
    """Empty the IPVS table and remove every address but the bridges' own from the director.

    Used between tests so that each starts from a bare director (the real servers and MariaDB
    stay as they are). A flush is fine here: it is the test's reset, not the product's doing.
    """
    run("ipvsadm", "-C")
    # A port plugged in by a test (a second director, a BGP router) whose namespace outlived
    # its `ip netns del` (a process or socket still in it) would go on answering ARP for the
    # VIP beside the director: unplug it (deleting one end of a veth deletes both).
    for port in bridge_ports(BRIDGE) | bridge_ports(PUBLIC_BRIDGE):
        if port not in TOPOLOGY_PORTS:
            run("ip", "link", "del", port, check=False)
    # Left by a test that marks packets with tc (the firewall-mark service); absent otherwise.
    run("tc", "qdisc", "del", "dev", BRIDGE, "clsact", check=False)
    # NAT needs forwarding: start without it, so that a test can see who turned it on.
    sysctl("net.ipv4.ip_forward", "0")
    base = {(BRIDGE, DIRECTOR_IP), (PUBLIC_BRIDGE, PUBLIC_DIRECTOR_IP), *keep}
    for device in (BRIDGE, PUBLIC_BRIDGE):
        for address, prefix, _label in addresses(device):
            if (device, address) not in base:
                run("ip", "addr", "del", f"{address}/{prefix}", "dev", device)
