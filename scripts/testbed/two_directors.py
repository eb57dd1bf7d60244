"""Two directors for the lab, each as a real installation: namespaces "dir1" (primary) and "dir2"
(backup) on the lab's bridge, each with its own state directory and SQLite file, running what
`make run` runs there (gunicorn on :3636, `manage.py lvsworker`, and keepalived with the argv
and the wait of `manage.py vrrp --exec-keepalived`), each process started inside its namespace.
They share only the peer secret; the standby follows the active director's published revisions
over HTTP (monitoring.peersync), as in production. In BGP mode (`make_pair(bgp=True)`) both
serve at once, without keepalived, each announcing the VIP to the lab's router through the BIRD
its worker runs; dir1 is where the configuration is edited and dir2 follows it.

Both start from one seeded database (`seed` then `copy_database`): the same account, the same
published revision and the same MONITORING SCRIPTS (a MySQL check), as two directors set up from
one backup.

A director "dies hard" by kill -9 of every process in its namespace and its link deleted at once:
the VIP it held vanishes with it, as with a machine that lost power. It "returns" as a rebooted
machine: a new namespace (same MAC), its processes started again, its state directory kept.
"""

from __future__ import annotations

import ctypes
import errno
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from monitoring.redundancy import keepalived
from scripts.testbed.bgp_router import lvs_cf_keys
from scripts.testbed.gui_client import Client, read_db
from scripts.testbed.topology import (
    BRIDGE,
    CLIENT,
    CLONE_NEWNET,
    MYSQL_PASSWORD,
    MYSQL_USER,
    VIP,
    _libc,
    add_namespace,
    mysql_connect,
    query_one,
    run,
)
from virtualservers.lvsconf.paths import is_path_mark

REPO = Path(__file__).resolve().parents[2]  # scripts/testbed/ -> the checkout
DIRECTORS = {"dir1": "192.0.2.11", "dir2": "192.0.2.12"}
KEEPALIVE, DEADTIME = 1, 4
SYNC_ID = 7
GUI_PORT = 3636
LOGS = ("worker", "web", "keepalived")
# How long a revision published on one director may take to reach the other (its revision,
# then its kernel table) in the lab. The promise is 2 s from the Apply; the host test with the
# same processes (tests/monitoring/peersync/test_peersync_two_directors.py) holds it (0.3-0.8
# s). Here Python runs 30 to 200 times slower than on the host (QEMU without KVM, on a machine
# whose own speed varies): the chain measured 1.3-1.9 s to the revision and 1.5-2.4 s to the
# table in one run, 7.8 s and 13.3 s in another, the GUI's pages five times slower throughout.
# This bound (60 of the follower's 0.5 s polls) proves that a director follows by itself, not
# the promise.
FOLLOW_WITHIN = 30.0


def say(message: str) -> None:
    """Progress in the guest's pytest log (run with -s): the lab is slow, and a step that hangs
    should be visible."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def enter_netns(ns: str) -> None:
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"setns into {ns}: {os.strerror(code)}")
    finally:
        os.close(fd)


def lvs_cf(text: str, syncdaemon: bool, monitor_links: bool = False) -> str:
    """A lab lvs.cf (scripts.testbed.lvscf) made redundant: dir1 primary, dir2 backup, short timers."""
    redundancy = "\n".join(
        [
            f"primary = {DIRECTORS['dir1']}",
            "backup_active = 1",
            f"backup = {DIRECTORS['dir2']}",
            f"keepalive = {KEEPALIVE}",
            f"deadtime = {DEADTIME}",
            f"monitor_links = {int(monitor_links)}",
            f"syncdaemon = {int(syncdaemon)}",
            "syncd_iface = eth0",
            f"syncd_id = {SYNC_ID}",
        ]
    )
    return with_globals(text, redundancy)


# The BGP pair's sessions: no BFD and a long hold time. Its test is about what the directors
# announce, not how fast the router notices a dead one (test_bgp_directors.py); with BFD at
# 300 ms and a 3 s hold time, one run's VM stalled under a loaded host (a page took 50 s) and the
# router dropped both sessions at once, and their routes, while both workers announced.
BGP_HOLD_TIME, BGP_BFD = 240, False


def bgp_lvs_cf(text: str, hold_time: int = BGP_HOLD_TIME, bfd: bool = BGP_BFD) -> str:
    """A lab lvs.cf made for directors active at once: dir1's address as the primary, the BGP
    keys of the lab's router (scripts.testbed.bgp_router, with `hold_time` and `bfd`)."""
    keys = lvs_cf_keys(hold_time, bfd)
    return with_globals(text, f"primary = {DIRECTORS['dir1']}\n{keys}".rstrip("\n"))


def with_globals(text: str, lines: str) -> str:
    """`text` with `lines` after its first line (serial_no), in place of its own primary and
    backup_active."""
    kept = [
        line for line in text.splitlines() if not line.startswith(("primary =", "backup_active ="))
    ]
    return "\n".join([kept[0], lines, *kept[1:]]) + "\n"


def seed(text: str, lvs_cf_path: Path) -> str:
    """The first installation, in the calling process's Django database: the user `piranha`,
    `text` imported into the draft, a MySQL check on every virtual server, and one Apply.

    Returns the key of a session logged in as `piranha`: a password login cost minutes in the
    VM (PBKDF2's million rounds under emulation, on a director busy starting), so the GUI
    sessions start from this one (logging in is tested on the host)."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import override_settings

    from monitoring.publish.draft import replace_draft
    from monitoring.publish.revisions import publish
    from virtualservers.lvsconf.parse import parse
    from virtualservers.models import MonitoringScript, VirtualServer

    # No password (hashing one costs tens of seconds under emulation): the session below is
    # how the test logs in.
    # A second pair in the same process (the failover benchmark: VRRP, then BGP) reuses it.
    user = get_user_model().objects.filter(username="piranha").first()
    user = user or get_user_model().objects.create_superuser("piranha", password=None)
    replace_draft(parse(text)[0])
    for virtual in VirtualServer.objects.all():
        MonitoringScript.objects.update_or_create(
            virtual_server=virtual,
            defaults={"kind": "mysql", "mysql_user": MYSQL_USER, "mysql_password": MYSQL_PASSWORD},
        )
    with override_settings(LVSADMIN_LVS_CF=lvs_cf_path):
        publish(user, "seeded by the lab")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def copy_database(target: Path) -> None:
    """The calling process's SQLite database (committed rows) copied to `target`."""
    from django.db import connection

    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(connection.settings_dict["NAME"])
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


class LabClient(Client):
    """The GUI client, each request said in the lab's log with its time (pages take seconds
    under emulation; a slow one should be visible)."""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        started = time.monotonic()
        status, text = super().request(method, path, form)
        say(f"{self.host}: {method} {path} -> {status} in {time.monotonic() - started:.1f} s")
        return status, text


@dataclass
class Director:
    name: str
    address: str
    peer: str
    base: Path  # its state directory (LVSADMIN_STATE_DIR): database, role file, keepalived.conf
    secret: Path  # the peer secret both directors share
    session: str = ""  # a logged-in session's key (see seed)
    secret_key: str = (
        ""  # Django's SECRET_KEY, the seeding process's (the session is signed with it)
    )
    hwaddr: str = ""  # kept across a "reboot", as a real machine's NIC keeps its MAC
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # False: directors active at once (BGP): no keepalived; the VIP on `lo`, as the README
    # tells the operator to put it, and BIRD started by the worker.
    vrrp: bool = True
    settings: dict[str, str] = field(default_factory=dict)  # more LVSADMIN_* for its processes

    @property
    def database(self) -> Path:
        return self.base / "lvsadmin.sqlite3"

    @property
    def role_file(self) -> Path:
        return self.base / "director-role.json"

    @property
    def conf(self) -> Path:
        return self.base / "keepalived.conf"

    def role(self) -> str:
        try:
            return json.loads(self.role_file.read_text())["role"]
        except (OSError, ValueError, KeyError):
            return "none"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "lvsadmin.settings",
            "LVSADMIN_STATE_DIR": str(self.base),
            "LVSADMIN_SECRET_KEY": self.secret_key,
            "LVSADMIN_BIND": f"{self.address}:{GUI_PORT}",
            "LVSADMIN_ALLOWED_HOSTS": f"{self.address},127.0.0.1,localhost",
            "LVSADMIN_ALLOWED_NETWORKS": "192.0.2.0/24,127.0.0.0/8",
            "LVSADMIN_PEER_SECRET_FILE": str(self.secret),
            "LVSADMIN_PEER_URL": f"http://{self.peer}:{GUI_PORT}",
            "LVSADMIN_LOG_LEVEL": "INFO",
            # Under emulation a gunicorn worker needs more than the default 30 s to import
            # Django and serve its first pages; it would be killed in a loop.
            "LVSADMIN_WEB_TIMEOUT": "600",
            # gunicorn's two workers forked from a master that imported Django once: a boot
            # under emulation costs minutes per Django import.
            "GUNICORN_CMD_ARGS": "--preload",
            **self.settings,
        }

    def client(self) -> Client:
        """A logged-in GUI session on this director (from the lab's root namespace)."""
        client = LabClient(GUI_PORT, host=self.address)
        client.cookies["sessionid"] = self.session
        status, _ = client.request("GET", "/")  # CONTROL/MONITORING: the CSRF cookie and token
        assert status == 200, f"{self.name}: GET / answered {status}"
        return client

    # --- the machine -------------------------------------------------------------------------
    def boot(self) -> None:
        """The namespace and its three processes, started as `make run` starts them."""
        self.base.mkdir(parents=True, exist_ok=True)
        add_namespace(self.name, BRIDGE, f"{self.address}/24")
        # A new veth gets a new MAC; the peer's neighbour entry would then send its unicast
        # adverts nowhere for seconds, and the returning primary would take over (a fail-back
        # a real reboot does not cause).
        if self.hwaddr:
            run("ip", "link", "set", "eth0", "address", self.hwaddr, ns=self.name)
        link = json.loads(run("ip", "-j", "link", "show", "eth0", ns=self.name).stdout)[0]
        self.hwaddr = link["address"]
        if not self.vrrp:
            run("ip", "addr", "add", f"{VIP}/32", "dev", "lo", ns=self.name)
        python = [sys.executable, str(REPO / "manage.py")]
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.start("worker", [*python, "lvsworker"])
        self.start(
            "web", [gunicorn, "-c", "lvsadmin/gunicorn.conf.py", "lvsadmin.wsgi:application"]
        )
        say(f"{self.name}: namespace up, worker and gunicorn starting")

    def start(self, what: str, command: list[str]) -> None:
        log = open(self.base / f"{what}.log", "ab")  # noqa: SIM115 (kept by the process)
        self.processes[what] = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *command], cwd=REPO, env=self.environment(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready(self) -> bool:
        """Its GUI answers and keepalived runs (VRRP); an exited process fails at once with its
        log."""
        for what, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(
                    f"{self.name}: {what} exited with {process.returncode}\n{self.log_tail()}"
                )
        # keepalived as `manage.py vrrp --exec-keepalived` starts it (the same argv, once the
        # worker has written its configuration), without a third Django start-up per boot.
        if self.vrrp and "keepalived" not in self.processes:
            if not keepalived.configured(self.conf):
                return False
            pid_file = self.base / "keepalived.pid"
            keepalived.before_start(pid_file, self.base / "worker-ready")
            self.start("keepalived", keepalived.command("keepalived", self.conf, pid_file))
        try:
            if self.vrrp:
                os.kill(int((self.base / "keepalived.pid").read_text().split()[0]), 0)
        except (OSError, ValueError, IndexError):
            return False
        # gunicorn listens before its workers have loaded Django: ready once a page answers.
        connection = http.client.HTTPConnection(self.address, GUI_PORT, timeout=600)
        try:
            connection.request("GET", "/accounts/login/")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def die(self) -> float:
        """kill -9 of everything in the namespace and its link gone at once (a machine losing
        power), then the namespace deleted; when it died (its link gone).

        The link goes first: IPVS forwards in the kernel, so a director whose processes are
        killed goes on serving the VIP until its link is gone, and an `ip` process takes a second
        under emulation: measured from the kill, the first failover benchmark counted answers
        of the dying director as the survivor's."""
        pids = run("ip", "netns", "pids", self.name, check=False).stdout.split()
        run("ip", "-n", self.name, "link", "del", "eth0", check=False)
        died = time.monotonic()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()
        run("ip", "netns", "del", self.name, check=False)
        return died

    def shutdown(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        self._reap()
        for pid in run("ip", "netns", "pids", self.name, check=False).stdout.split():
            try:  # anything left (keepalived's VRRP child, a notify hook)
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        run("ip", "-n", self.name, "link", "del", "eth0", check=False)
        run("ip", "netns", "del", self.name, check=False)

    def _reap(self) -> None:
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self.processes = {}

    def log_tail(self, lines: int = 15) -> str:
        try:
            role = self.role_file.read_text().strip()
        except OSError as exc:
            role = f"(no role file: {exc.strerror})"
        parts = [f"[role file at {time.strftime('%H:%M:%S')}] {role}"]
        for what in LOGS:
            try:
                text = (self.base / f"{what}.log").read_text(errors="replace")
            except OSError:
                text = "(no log)"
            parts.append(f"[{what}]\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)


# --- what the test and the failover benchmark (bench/vm_failover.py) both do ----------------
def wait_for(condition, limit: float, what: str, directors=()) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            logs = "\n".join(f"--- {d.name} ({d.role()}):\n{d.log_tail()}" for d in directors)
            raise AssertionError(f"{what} did not happen within {limit} s\n{logs}")
        time.sleep(0.05)
    return time.monotonic() - start


def ipvs_table(director: Director) -> str:
    """The director's operator table as `ipvsadm -Ln` prints it, without the worker's private
    path-check services: each director's own checks move their counters."""
    return without_path_services(run("ipvsadm", "-Ln", ns=director.name).stdout)


def without_path_services(text: str, base: int = 10) -> str:
    """`ipvsadm -Ln` (or /proc/net/ip_vs, whose marks are hex: base 16) without the blocks of
    the path checks' private firewall-mark services (lvsconf.paths)."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if not line.startswith(" "):
            words = line.split()
            skipping = len(words) > 1 and words[0] == "FWM" and is_path_mark(int(words[1], base))
        if not skipping:
            kept.append(line)
    return "".join(kept)


def connections(director: Director) -> str:
    return run("ipvsadm", "-Lnc", ns=director.name).stdout


def sync_daemons(director: Director) -> str:
    return run("ipvsadm", "-L", "--daemon", ns=director.name).stdout


def mac(director: Director) -> str:
    link = json.loads(run("ip", "-j", "link", "show", "eth0", ns=director.name).stdout)[0]
    return link["address"]


def client_neighbour() -> str:
    entries = json.loads(run("ip", "-j", "neigh", "show", VIP, ns=CLIENT).stdout)
    return entries[0].get("lladdr", "") if entries else ""


def connect_through_vip(limit: float = 20) -> pymysql.connections.Connection:
    deadline = time.monotonic() + limit
    while True:  # the client's first ARP may precede the VIP
        try:
            return mysql_connect(VIP, timeout=5)
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def held_connection() -> tuple[pymysql.connections.Connection, str]:
    """A MySQL connection through the VIP that has carried a few queries (so the sync daemon
    has a reason to send it), and its client end as ipvsadm -Lnc prints it."""
    connection = connect_through_vip()
    for _ in range(5):
        assert query_one(connection, "SELECT 1") == (1,)
    address, port = connection._sock.getsockname()[:2]
    return connection, f"{address}:{port}"


def real_server_ids(director: Director, name: str) -> tuple[int, int]:
    ((virtual, real),) = read_db(
        director.database,
        "SELECT r.virtual_server_id, r.id FROM realservers_realserver r "
        "JOIN virtualservers_virtualserver v ON v.id = r.virtual_server_id "
        "WHERE v.name = 'mysql' AND r.name = ?",
        (name,),
    )
    return virtual, real


def latest_serial(director: Director) -> int:
    rows = read_db(director.database, "SELECT MAX(serial_no) FROM virtualservers_revision")
    return rows[0][0] or 0


def redundancy_form(monitor_links: bool, syncdaemon: bool) -> dict[str, str]:
    """REDUNDANCY as an operator fills it in (unchecked boxes are simply absent)."""
    form = {
        "backup": DIRECTORS["dir2"],
        "keepalive": str(KEEPALIVE),
        "deadtime": str(DEADTIME),
        "heartbeat_port": "539",
        "syncd_iface": "eth0",
        "syncd_id": str(SYNC_ID),
    }
    if monitor_links:
        form["monitor_links"] = "on"
    if syncdaemon:
        form["syncdaemon"] = "on"
    return form


def apply(director: Director, gui, comment: str) -> int:
    gui.request("GET", "/")  # the page with the Apply form and its CSRF token
    status, _ = gui.request("POST", "/apply/", {"comment": comment})
    assert status == 302
    return latest_serial(director)


def make_pair(
    base: Path,
    syncdaemon: bool = True,
    bgp: bool = False,
    bgp_timers: tuple[int, bool] = (BGP_HOLD_TIME, BGP_BFD),
) -> dict[str, Director]:
    """Two directors seeded from one installation (see the module), not started yet: the MySQL
    service on the VIP over both lab real servers, direct routing, least-connection.

    `bgp`: directors active at once instead, announcing to the lab's router
    (scripts.testbed.bgp_router): the VIP on `lo`, Maglev hashing; dir1 is where the
    configuration is edited and dir2 follows it (LVSADMIN_FOLLOW_PEER). `bgp_timers`: the
    sessions' hold time and BFD on or off (the failover benchmark's are 3 s with BFD)."""
    from scripts.testbed import lvscf

    secret = base / "peer-secret"
    secret.write_text("lab-peer-secret-" + "5a" * 24 + "\n")
    secret.chmod(0o600)
    text = lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, device="lo" if bgp else "eth0:1",
            scheduler="mh" if bgp else "lc", servers=lvscf.mysql_servers(),
        ),
        network="direct",
    )  # fmt: skip
    from django.conf import settings

    if bgp:
        # The checks through the forwarding path stay on (the default), as on a real pair.
        text = bgp_lvs_cf(text, *bgp_timers)
    else:
        text = lvs_cf(text, syncdaemon=syncdaemon)
    session = seed(text, base / "seed-lvs.cf")
    names = list(DIRECTORS)
    directors = {}
    for name, peer in zip(names, reversed(names), strict=True):
        copy_database(base / name / "lvsadmin.sqlite3")
        directors[name] = Director(
            name, DIRECTORS[name], DIRECTORS[peer], base / name, secret, session,
            settings.SECRET_KEY, vrrp=not bgp,
            settings={"LVSADMIN_FOLLOW_PEER": "1"} if bgp and name != "dir1" else {},
        )  # fmt: skip
    return directors


def boot(*directors: Director, everyone: list[Director]) -> float:
    """Start `directors` and wait until each is ready; the seconds it took."""
    started = time.monotonic()
    for director in directors:
        director.boot()
    # Measured 288 s and 520 s for two at once on the uncached root (the machine's speed varies).
    wait_for(lambda: all(d.ready() for d in directors), 900, "the directors' start", everyone)
    return time.monotonic() - started


def steady(pair: dict[str, Director], sampler: VipSampler) -> tuple[Director, Director]:
    """Once one director holds the VIP, both role files agree and both IPVS tables are loaded
    (each by its own worker): the active and the standby director."""
    everyone = list(pair.values())
    wait_for(lambda: len(sampler.holders()) == 1, 60, "one director holding the VIP", everyone)
    (holder,) = sampler.holders()
    active = pair[holder]
    (standby,) = [d for d in everyone if d is not active]
    # Untimed steps wait long: Python under emulation on a busy machine is slow to start (the
    # notify hook) and to poll; only the steps the issue times are held to their promise.
    wait_for(lambda: active.role() == "active" and standby.role() == "standby", 180,
             "the role files", everyone)  # fmt: skip
    for director in everyone:
        wait_for(lambda d=director: ipvs_table(d).count("-> 192.0.2.24") == 2, 180,
                 f"{director.name}'s IPVS table", everyone)  # fmt: skip
    # The worker switches its sync daemon on its next poll after keepalived's notification: a
    # connection opened on a new active director before its master daemon runs is sent to nobody.
    wait_for(lambda: sync_daemons_in_roles(active, standby), 60, "the sync daemons' roles",
             everyone)  # fmt: skip
    return active, standby


def sync_daemons_in_roles(active: Director, standby: Director) -> bool:
    """Master on the active director and backup on the standby, or none on either (off)."""
    on_active, on_standby = sync_daemons(active), sync_daemons(standby)
    if not on_active.strip() and not on_standby.strip():
        return True
    return "master" in on_active and "backup" in on_standby


class TableWatcher:
    """How many real servers a director's IPVS table holds, read every 20 ms from a thread inside
    its namespace (/proc/thread-self/net/ip_vs is the thread's namespace's table): when a change
    reached the kernel, to the poll. An `ipvsadm` process per look costs a second under
    emulation; the test reads the table back with ipvsadm once the time is taken."""

    def __init__(self, ns: str, every: float = 0.02) -> None:
        self.ns, self.every = ns, every
        self.samples: list[tuple[float, int]] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> TableWatcher:
        self.thread.start()
        return self

    def _watch(self) -> None:
        enter_netns(self.ns)
        while not self.stopping:
            text = without_path_services(Path("/proc/thread-self/net/ip_vs").read_text(), 16)
            servers = sum(
                1
                for line in text.splitlines()
                if line.lstrip().startswith("->") and "RemoteAddress" not in line
            )
            self.samples.append((time.monotonic(), servers))
            time.sleep(self.every)

    def first(self, servers: int, after: float) -> float | None:
        """When the table first held `servers` real servers after `after` (None: not yet)."""
        return next((t for t, n in list(self.samples) if t > after and n == servers), None)

    def stop(self) -> None:
        self.stopping = True


class VipSampler:
    """Which directors hold the VIP, sampled every 100 ms from a thread per director that
    entered its namespace: binding a socket to the VIP succeeds only where it is a local
    address."""

    def __init__(self, names: list[str], every: float = 0.1) -> None:
        self.every = every
        self.samples: list[tuple[float, frozenset[str]]] = []
        self.holding: dict[str, bool] = dict.fromkeys(names, False)
        self.generation: dict[str, int] = dict.fromkeys(names, 0)
        self.stopping = False
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._watch, args=(n, 0), daemon=True) for n in names
        ]
        self.recorder = threading.Thread(target=self._record, daemon=True)

    def start(self) -> VipSampler:
        for thread in self.threads:
            thread.start()
        self.recorder.start()
        return self

    def _watch(self, name: str, generation: int) -> None:
        try:
            enter_netns(name)
        except OSError:
            return
        while not self.stopping and self.generation[name] == generation:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind((VIP, 0))
                held = True
            except OSError as exc:
                held = False if exc.errno == errno.EADDRNOTAVAIL else self.holding[name]
            with self.lock:
                if self.generation[name] == generation:
                    self.holding[name] = held
            time.sleep(self.every / 2)

    def _record(self) -> None:
        while not self.stopping:
            with self.lock:
                now = frozenset(n for n, held in self.holding.items() if held)
            self.samples.append((time.monotonic(), now))
            time.sleep(self.every)

    def forget(self, name: str) -> None:
        """A dead director holds nothing (its namespace is gone)."""
        with self.lock:
            self.generation[name] += 1
            self.holding[name] = False

    def watch_again(self, name: str) -> None:
        with self.lock:
            self.generation[name] += 1
            generation = self.generation[name]
        thread = threading.Thread(target=self._watch, args=(name, generation), daemon=True)
        self.threads.append(thread)
        thread.start()

    def holders(self) -> frozenset[str]:
        with self.lock:
            return frozenset(n for n, held in self.holding.items() if held)

    def first(self, holders: set[str], after: float) -> float:
        """When `holders` first held the VIP (and nobody else) after `after`."""
        return next(at for at, now in list(self.samples) if at > after and now == holders)

    def longest_overlap(self) -> float:
        """The longest stretch during which more than one director held the VIP."""
        longest, start = 0.0, None
        for at, holders in self.samples:
            if len(holders) > 1:
                start = at if start is None else start
                longest = max(longest, at - start)
            else:
                start = None
        return longest

    def stop(self) -> None:
        self.stopping = True
