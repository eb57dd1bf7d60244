"""Health checks with nanny's semantics (piranha.md §3.4-3.5), without nanny's traps.

Django-free and asyncio-based, so one worker can run thousands of checks concurrently. Every
probe returns a ProbeResult with the reason a sysadmin needs when it fails.

Kept from nanny: the service timeout is both the interval and the I/O timeout; send/expect with
backslash escapes; a prefix match, or a regex search with use_regex, or `*` for any reply; the
sending program's `%h`/`%p` substituted as whole words and its first output line compared with
expect. Fixed: a program that fails, hangs, is killed or exits non-zero is DOWN (nanny counted it
up); no shell ever; only programs from the directories root designates, run by descriptor as an
unprivileged user (checks.programs); %h is only ever a plain IP address; a regex is matched by
RE2, in time linear in the reply, so no crafted reply can stall the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

import re2

from monitoring.checks.programs import ProgramRefused, open_program, spawn
from monitoring.loadweights.database import DatabaseLoad, read_database_load
from virtualservers.lvsconf.paths import PathCheck
from virtualservers.lvsconf.schema import (
    BUILTIN_CHECK_SETTINGS,
    CHECK_TYPES,
    DEFAULT_HTTP_STATUS,
    WEB_CHECK_KEYS,
)

NANNY_DEFAULT_SEND = "GET / HTTP/1.0\\r\\n\\r\\n"
NANNY_DEFAULT_EXPECT = "HTTP"
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
# nanny reads at most 254 bytes for a regex expect: the bound that keeps a match short.
REGEX_READ = 254


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency: float
    reason: str = ""
    # The MySQL check's load figures, read on its connection when load_monitor = mysql.
    load: DatabaseLoad | None = None


@dataclass(frozen=True)
class CheckSpec:
    """How to check the real servers of one virtual server."""

    kind: str = "nanny"  # nanny (send/expect or program), tcp, mysql, http, https, tls
    protocol: str = "tcp"
    timeout: float = 10.0
    send: str | None = None
    expect: str | None = None
    use_regex: bool = False
    send_program: str | None = None
    mysql_user: str = ""
    mysql_password: str = ""
    mysql_database: str = ""
    mysql_query: str = ""
    mysql_expect: str = ""
    mysql_load: bool = False  # load_monitor = mysql: also read the load figures (loadweights)
    # The HTTP(S) and TLS checks (checks.http), from lvs.cf's own keys of the same names.
    http_method: str = "GET"
    http_path: str = "/"
    http_host: str = ""
    http_status: str = DEFAULT_HTTP_STATUS
    http_body: str = ""
    http_body_regex: bool = False
    tls_verify: bool = False
    tls_ca: str = ""
    tls_sni: str = ""


WEB_CHECKS = frozenset(CHECK_TYPES)


# The built-in MySQL check's settings are declared with the lvs.cf keys (schema.py), as what
# lvs.cf cannot hold; a published revision carries them in its `checks`.
MYSQL_SETTINGS = BUILTIN_CHECK_SETTINGS


def builtin_check(values: Mapping[str, object]) -> dict[str, str]:
    """A virtual server's built-in check settings (what Revision.checks holds for it) from any
    mapping that spells them so: a model row's values(), or a stored revision's entry."""
    return {
        "kind": str(values.get("kind") or "nanny"),
        **{name: str(values.get(name) or "") for name in MYSQL_SETTINGS},
    }


def unescape(text: str) -> str:
    """nanny's convert_str: \\n \\r \\t \\\\ \\' \\" are translated; unknown escapes keep the backslash."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def matches(reply: bytes, expect: str, use_regex: bool) -> bool:
    if expect == "*":
        return len(reply) > 0
    if use_regex:
        # A UDP datagram can be 64 KB: like nanny's one read, only its first bytes are looked at.
        return expect_regex(expect).search(reply[:REGEX_READ].decode("latin-1")) is not None
    text = reply.decode("latin-1")
    return text.startswith(expect)


def re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the reason goes to the health line, not to stderr
    return options


@functools.lru_cache(maxsize=1024)
def expect_regex(expect: str) -> re2._Regexp:
    """RE2 has no backtracking: a search takes time linear in the reply (at most 254 bytes), so it
    runs on the event loop. What RE2 refuses (backreferences, lookarounds) fails the check."""
    try:
        return re2.compile(expect, re2_options())
    except re2.error as exc:
        text = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(f"the expect regex cannot be used: {text}") from None


def spec_for(virtual, check: dict | None = None) -> CheckSpec:
    """The check for a virtual server of an LvsConfig, plus its built-in check settings
    (Revision.checks[name]) when it has one."""
    settings = builtin_check(check or {})
    kind = settings.pop("kind")
    if virtual.check:  # an HTTP(S) or TLS check is said in lvs.cf itself
        kind = virtual.check
    send, expect = virtual.send, virtual.expect
    if (
        kind == "nanny"
        and not virtual.send_program
        and send is None
        and expect is None
        and virtual.effective_port == 80
    ):
        send, expect = NANNY_DEFAULT_SEND, NANNY_DEFAULT_EXPECT  # nanny's own default for port 80
    return CheckSpec(
        kind=kind,
        protocol=virtual.effective_protocol,
        timeout=float(virtual.effective_timeout),
        send=send,
        expect=expect,
        use_regex=bool(virtual.use_regex),
        send_program=virtual.send_program,
        mysql_load=kind == "mysql" and virtual.load_monitor == "mysql",
        **settings,
        **web_settings(virtual),
    )


def web_settings(virtual) -> dict[str, object]:
    """The HTTP(S)/TLS check's settings of a virtual server, lvs.cf's defaults filled in."""
    values = {
        name: getattr(virtual, name)
        for name in WEB_CHECK_KEYS
        if getattr(virtual, name) is not None
    }
    return values


async def probe(
    address: str, port: int, spec: CheckSpec, path: PathCheck | None = None
) -> ProbeResult:
    """Check the real server at address:port; with `path`, the same check goes through the
    forwarding path instead (to the VIP, by the path's private service): every request, Host
    header and SNI name stays the real server's, so that only the path differs."""
    start = time.monotonic()
    load = None
    try:
        if spec.kind == "mysql":
            ok, reason, load = await asyncio.to_thread(mysql_check, address, port, spec, path)
        elif spec.kind in WEB_CHECKS:
            from monitoring.checks.http import web_check

            ok, reason = await web_check(address, port, spec, path)
        elif spec.kind == "nanny" and spec.send_program:
            # A program opens its own sockets, which carry no mark (lvsconf.paths never plans
            # a path check for one).
            ok, reason = await program_check(address, port, spec)
        elif spec.protocol == "udp":
            ok, reason = await udp_check(address, port, spec, path)
        else:
            tcp_only = spec.kind == "tcp"
            ok, reason = await tcp_check(address, port, spec, tcp_only, path)
    except Exception as exc:  # a probe must never take the worker down
        ok, reason = False, f"check failed: {exc}"
    return ProbeResult(ok, time.monotonic() - start, reason, load)


async def probe_both_ways(
    address: str, port: int, spec: CheckSpec, path: PathCheck | None
) -> ProbeResult:
    """The configured check to the real server's own address and, when it has a path check,
    through the forwarding path at the same time (so the whole stays within one timeout)."""
    if path is None:
        return await probe(address, port, spec)
    if spec.mysql_load:
        # The direct check reads Threads_running, and MariaDB counts a connection logging in or
        # quitting as running: the path check's login beside it made an idle server read a load
        # of 1 (lab run: 5 with 4 sleeping statements). The path check goes first, alone.
        through = await probe(address, port, spec, path)
        direct = await probe(address, port, spec)
        return both_ways(direct, through, path)
    direct, through = await asyncio.gather(
        probe(address, port, spec), probe(address, port, spec, path)
    )
    return both_ways(direct, through, path)


def both_ways(direct: ProbeResult, through: ProbeResult, path: PathCheck) -> ProbeResult:
    """One verdict from the two checks: the direct check's failure says what it says; a real
    server that answers directly but not through the path is down with what to fix on it."""
    if not direct.ok or through.ok:
        return direct
    return ProbeResult(False, direct.latency, path.failed_reason(through.reason))


def source_address(real_server: str) -> str:
    """The director's own address towards a real server: what the kernel's route picks (a UDP
    socket's connect sends nothing). The path check's socket is bound to it, since left to the
    kernel the source would be the VIP itself, a local address, and the reply would go to the
    real server's own copy of the VIP."""
    family = socket.AF_INET6 if ":" in real_server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe_socket:
        probe_socket.connect((real_server, 9))
        return probe_socket.getsockname()[0]


def path_socket(path: PathCheck, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket whose packets IPVS sends to the path's one real server: marked with the private
    service's mark (SO_MARK needs CAP_NET_ADMIN: the worker runs as root) and bound to the
    director's own address; the caller connects it to the VIP."""
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, path.mark)
        sock.bind((source_address(path.address), 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def open_stream(
    address: str, port: int, path: PathCheck | None = None, **options
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio.open_connection to the real server, or through the path to the VIP."""
    if path is None:
        return await asyncio.open_connection(address, port, **options)
    sock = path_socket(path)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (path.vip, port))
    except BaseException:  # a timeout cancels the connect: the socket must not leak
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, **options)


def _timeout_reason(spec: CheckSpec) -> str:
    return f"timed out after {spec.timeout:g} s"


async def tcp_check(
    address: str,
    port: int,
    spec: CheckSpec,
    connect_only: bool = False,
    path: PathCheck | None = None,
) -> tuple[bool, str]:
    try:
        reader, writer = await asyncio.wait_for(open_stream(address, port, path), spec.timeout)
    except TimeoutError:
        return False, f"connect {_timeout_reason(spec)}"
    except OSError as exc:
        return False, _os_reason(exc)
    try:
        if connect_only or (not spec.send and not spec.expect):
            return True, ""
        if spec.send:
            writer.write(unescape(spec.send).encode("latin-1"))
            await writer.drain()
        if not spec.expect:
            return True, ""
        expect = unescape(spec.expect)
        # nanny does one read of len(expect) bytes (254 for a regex); read until that many came.
        wanted = REGEX_READ if spec.use_regex or expect == "*" else len(expect.encode("latin-1"))
        try:
            reply = await asyncio.wait_for(
                _read_up_to(reader, wanted, stop_early=spec.use_regex or expect == "*"),
                spec.timeout,
            )
        except TimeoutError:
            return False, f"no reply: {_timeout_reason(spec)}"
        if matches(reply, expect, spec.use_regex):
            return True, ""
        return False, f"expected {expect!r}, got {reply[:60].decode('latin-1')!r}"
    except OSError as exc:
        return False, _os_reason(exc)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1)
        except (OSError, TimeoutError):
            pass


async def _read_up_to(reader: asyncio.StreamReader, wanted: int, stop_early: bool) -> bytes:
    data = b""
    while len(data) < wanted:
        chunk = await reader.read(wanted - len(data))
        if not chunk:
            break
        data += chunk
        if stop_early:
            break
    return data


class _UDPProbe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def udp_check(
    address: str, port: int, spec: CheckSpec, path: PathCheck | None = None
) -> tuple[bool, str]:
    if not spec.expect:
        # nanny 0.8.6 crashed here (NULL expect); a UDP check needs a reply to mean anything.
        return False, "a UDP check needs an expect string (a reply to wait for)"
    loop = asyncio.get_running_loop()
    if path is None:
        transport, protocol = await loop.create_datagram_endpoint(
            _UDPProbe, remote_addr=(address, port)
        )
    else:
        sock = path_socket(path, socket.SOCK_DGRAM)
        try:
            sock.connect((path.vip, port))  # a UDP connect sends nothing
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        transport, protocol = await loop.create_datagram_endpoint(_UDPProbe, sock=sock)
    try:
        transport.sendto(unescape(spec.send or "").encode("latin-1"))
        try:
            reply = await asyncio.wait_for(protocol.reply, spec.timeout)
        except TimeoutError:
            return False, f"no UDP reply: {_timeout_reason(spec)}"
        except OSError as exc:
            return False, _os_reason(exc)
        expect = unescape(spec.expect)
        if matches(reply, expect, spec.use_regex):
            return True, ""
        return False, f"expected {expect!r}, got {reply[:60].decode('latin-1')!r}"
    finally:
        transport.close()


def program_argv(command: str, address: str, port: int) -> list[str]:
    """nanny splits on single spaces and replaces tokens that are exactly %h or %p."""
    return [
        address if t == "%h" else str(port) if t == "%p" else t
        for t in command.split(" ")
        if t != ""
    ]


def plain_ip(address: str) -> bool:
    """An address fit to hand to a program as %h: an IP, without an IPv6 zone id."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return "%" not in address


async def program_check(address: str, port: int, spec: CheckSpec) -> tuple[bool, str]:
    assert spec.send_program is not None
    argv = program_argv(spec.send_program, address, port)
    if not argv:
        return False, "the sending program is empty"
    if "%h" in spec.send_program.split(" ") and not plain_ip(address):
        return False, f"refusing to pass {address!r} as %h: not a plain IP address"
    try:
        program = open_program(argv[0])
    except ProgramRefused as refused:
        return False, str(refused)
    try:
        # The checked descriptor is what runs (no second path lookup); pass_fds keeps it open
        # across exec so that a #! script's interpreter can read it as /proc/self/fd/N.
        process = await spawn(
            argv, program.uid, program.gid, program.executable, pass_fds=(program.fd,)
        )
    except OSError as exc:
        return False, f"cannot run {argv[0]}: {exc.strerror}"
    finally:
        program.close()
    try:
        output, _ = await asyncio.wait_for(process.communicate(), spec.timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return False, f"{argv[0]} {_timeout_reason(spec)} and was killed"
    if process.returncode != 0:
        if process.returncode < 0:
            return False, f"{argv[0]} was killed by signal {-process.returncode}"
        return False, f"{argv[0]} exited with status {process.returncode}"
    first = output.decode("utf-8", "replace").split("\n", 1)[0].rstrip("\r")
    expect = spec.expect
    if expect is None or expect == "":
        return True, ""
    if expect == "*" or first == expect:
        return True, ""
    return False, f"expected {expect!r}, got {first[:60]!r}"


def mysql_check(
    address: str, port: int, spec: CheckSpec, path: PathCheck | None = None
) -> tuple[bool, str, DatabaseLoad | None]:
    """A full MySQL login, an optional query, then a clean COM_QUIT: unlike a bare TCP
    connect-and-drop, this never raises the server's connect-error count for the director.
    With `spec.mysql_load` (load_monitor = mysql) the same connection also reads the load
    figures (loadweights.database), on the direct check only: the third value, else None.

    The exception classes are PyMySQL's top-level names, never `pymysql.err.*`: with the
    application database on MySQL, settings install PyMySQL as MySQLdb, and Django's backend
    then imports `MySQLdb.err`, a second copy of `pymysql/err.py` that Python binds over the
    attribute `pymysql.err`. The connection still raises the first copy's classes, so a handler
    naming `pymysql.err.OperationalError` missed every error and the reason became the raw
    `check failed: (1045, ...)` tuple. The top-level names are bound once, at `import pymysql`.
    """
    import pymysql

    try:
        # Through the path PyMySQL takes a socket made here (marked). The client object is
        # built first and the socket connected right before the handshake, as PyMySQL itself
        # does for the direct check: the server's connect_timeout (10 s) runs from the TCP
        # connect, and in the lab's loaded VM a starved thread took 2.7-16.7 s to build it.
        # With the socket connected first the path check lost its login to the server's reset
        # ("Connection reset by peer") while the direct check beside it passed, and directors
        # active at once withdrew their VIPs by turns.
        connection = pymysql.connect(
            host=address if path is None else path.vip,
            port=port,
            user=spec.mysql_user,
            password=spec.mysql_password,
            database=spec.mysql_database or None,
            connect_timeout=spec.timeout,
            read_timeout=spec.timeout,
            write_timeout=spec.timeout,
            defer_connect=path is not None,
        )
        if path is not None:
            sock = _path_connected(path, port, spec)
            if isinstance(sock, str):
                return False, sock, None
            connection.connect(sock)
    except pymysql.OperationalError as exc:
        code, message = (exc.args + ("",))[:2]
        if code == 1045:
            return False, f"access denied for user '{spec.mysql_user}'", None
        if code == 2003:
            text = str(message)
            if "timed out" in text:
                return False, f"connect {_timeout_reason(spec)}", None
            if "refused" in text.lower() or "111" in text:
                return False, "connection refused", None
            return False, text, None
        return False, f"MySQL error {code}: {message}", None
    except (pymysql.MySQLError, OSError) as exc:
        return False, f"MySQL error: {exc}", None
    try:
        if spec.mysql_query:
            with connection.cursor() as cursor:
                cursor.execute(spec.mysql_query)
                row = cursor.fetchone()
            got = "" if row is None or row[0] is None else str(row[0])
            if spec.mysql_expect and got != spec.mysql_expect:
                return False, f"expected {spec.mysql_expect!r}, got {got!r}", None
        elif not spec.mysql_load:
            connection.ping(reconnect=False)
        return True, "", _database_load(connection) if spec.mysql_load and path is None else None
    except (pymysql.MySQLError, OSError) as exc:
        return False, f"MySQL query failed: {exc}", None
    finally:
        try:
            connection.close()  # sends COM_QUIT
        except Exception:
            pass


def _database_load(connection) -> DatabaseLoad | None:
    """The load figures on the check's connection; None when the server would not tell (the
    check itself passed: a load that cannot be read leaves the weight as it is)."""
    import pymysql

    try:
        with connection.cursor() as cursor:
            return read_database_load(cursor, (pymysql.MySQLError,))
    except (pymysql.MySQLError, OSError, ValueError):
        return None


def _path_connected(path: PathCheck, port: int, spec: CheckSpec) -> socket.socket | str:
    """The path's marked socket connected to the VIP, or why it could not be."""
    sock = None
    try:
        sock = path_socket(path)
        sock.settimeout(spec.timeout)
        sock.connect((path.vip, port))
    except TimeoutError:
        _close(sock)
        return f"connect {_timeout_reason(spec)}"
    except OSError as exc:
        _close(sock)
        return _os_reason(exc)
    return sock


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        sock.close()


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return exc.strerror or str(exc)
