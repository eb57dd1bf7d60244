"""Probes against real sockets and real programs on loopback, with nanny's semantics."""

import asyncio
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitoring.checks import programs as check_programs
from monitoring.checks.probes import CheckSpec, matches, probe, program_argv, spec_for, unescape
from virtualservers.lvsconf.model import VirtualServer


def run(coro):
    return asyncio.run(coro)


async def serve_tcp(reply: bytes | None, *, read_first: bool = True, host: str = "127.0.0.1"):
    """A TCP server on loopback answering `reply` (or never answering when None)."""
    received: list[bytes] = []

    async def handle(reader, writer):
        if read_first:
            try:
                received.append(await asyncio.wait_for(reader.read(100), 0.5))
            except TimeoutError:
                pass
        if reply is None:
            await asyncio.sleep(30)
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, 0)
    return server, server.sockets[0].getsockname()[1], received


def check(reply, spec: CheckSpec, **kwargs):
    async def go():
        server, port, received = await serve_tcp(reply, **kwargs)
        async with server:
            result = await probe("127.0.0.1", port, spec)
        return result, received

    return run(go())


def test_it_interprets_nanny_escapes_and_keeps_unknown_ones():
    assert unescape("GET / HTTP/1.0\\r\\n\\r\\n") == "GET / HTTP/1.0\r\n\r\n"
    assert unescape("a\\tb\\\\c\\'\\\"\\q") == "a\tb\\c'\"\\q"


def test_it_passes_on_a_prefix_match_and_sends_the_escaped_request():
    result, received = check(
        b"HTTP/1.0 200 OK\r\n\r\n",
        CheckSpec(timeout=2, send="GET / HTTP/1.0\\r\\n\\r\\n", expect="HTTP"),
    )
    assert result.ok, result.reason
    assert received == [b"GET / HTTP/1.0\r\n\r\n"]


def test_it_fails_on_the_wrong_banner_and_says_what_came():
    result, _ = check(b"SSH-2.0-OpenSSH\r\n", CheckSpec(timeout=2, send="\\n", expect="HTTP"))
    assert not result.ok
    assert result.reason == "expected 'HTTP', got 'SSH-'"


def test_it_searches_a_regex_when_use_regex_is_on():
    spec = CheckSpec(timeout=2, send="GET /\\r\\n", expect="HTTP/1\\.[01] 200", use_regex=True)
    assert check(b"HTTP/1.1 200 OK\r\n", spec)[0].ok
    assert not check(b"HTTP/1.1 503 Busy\r\n", spec)[0].ok


def test_it_takes_any_reply_for_a_star():
    assert check(b"x", CheckSpec(timeout=2, send="hi", expect="*"))[0].ok


def test_it_times_out_on_a_server_that_accepts_and_never_answers():
    result, _ = check(None, CheckSpec(timeout=1, send="GET /\\r\\n", expect="HTTP"))
    assert not result.ok
    assert result.reason == "no reply: timed out after 1 s"
    assert 0.9 < result.latency < 3


def test_it_reports_a_refused_connection():
    async def go():
        server, port, _ = await serve_tcp(b"")
        server.close()
        await server.wait_closed()
        return await probe("127.0.0.1", port, CheckSpec(timeout=2))

    result = run(go())
    assert not result.ok and result.reason == "connection refused"


def test_it_passes_a_plain_connect_without_send_or_expect():
    assert check(None, CheckSpec(timeout=2), read_first=False)[0].ok


def test_it_uses_nannys_http_default_only_for_port_80():
    web = spec_for(VirtualServer("web", port=80))
    mysql = spec_for(VirtualServer("db", port=3306))
    assert (web.send, web.expect) == ("GET / HTTP/1.0\\r\\n\\r\\n", "HTTP")
    assert (mysql.send, mysql.expect) == (None, None)
    assert web.timeout == 10.0  # the daemons' default when lvs.cf has no timeout


def test_it_checks_udp_with_send_and_expect():
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(b"PONG " + data, addr)

    async def go():
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            good = await probe(
                "127.0.0.1", port, CheckSpec(protocol="udp", timeout=1, send="ping", expect="PONG")
            )
            bad = await probe(
                "127.0.0.1", port, CheckSpec(protocol="udp", timeout=1, send="ping", expect="NOPE")
            )
            no_expect = await probe(
                "127.0.0.1", port, CheckSpec(protocol="udp", timeout=1, send="ping")
            )
        finally:
            transport.close()
        return good, bad, no_expect

    good, bad, no_expect = run(go())
    assert good.ok and not bad.ok
    assert not no_expect.ok and "needs an expect string" in no_expect.reason


# --- sending programs ---------------------------------------------------------------------


def allow_programs_from(monkeypatch, *dirs: Path, root_dirs: tuple[Path, ...] = ()) -> None:
    """What root would set in LVSADMIN_CHECK_PROGRAM_DIRS (and _ROOT_DIRS) for the worker."""
    policy = check_programs.ProgramPolicy(
        dirs=tuple(str(d) for d in dirs),
        root_dirs=tuple(str(d) for d in root_dirs),
        owner=os.getuid(),
    )
    monkeypatch.setattr(check_programs, "_policy", policy)


@pytest.fixture
def checks_dir(tmp_path: Path, monkeypatch) -> Path:
    """A check program directory made by the test (root-owned: the tests run as root)."""
    directory = tmp_path / "checks"
    directory.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(directory, 0o755)
    allow_programs_from(monkeypatch, directory)
    return directory


@pytest.fixture
def programs(checks_dir: Path):
    directory = checks_dir

    def make(name: str, body: str, mode: int = 0o755) -> str:
        path = directory / name
        path.write_text("#!/bin/sh\n" + body)
        os.chmod(path, mode)
        return str(path)

    return make


def program_result(
    command: str, expect: str | None = "UP", timeout: float = 2, address="127.0.0.1", port=3306
):
    return run(
        probe(address, port, CheckSpec(timeout=timeout, send_program=command, expect=expect))
    )


def test_it_substitutes_h_and_p_only_as_whole_words():
    assert program_argv("/bin/check %h %p --host=%h", "192.0.2.241", 3306) == [
        "/bin/check",
        "192.0.2.241",
        "3306",
        "--host=%h",
    ]


def test_it_compares_the_first_output_line_with_expect(programs):
    up = programs("up.sh", "echo UP\necho more\n")
    assert program_result(f"{up} %h").ok
    down = programs("down.sh", "echo DOWN\n")
    result = program_result(f"{down} %h")
    assert not result.ok and result.reason == "expected 'UP', got 'DOWN'"


def test_it_passes_the_real_servers_address_and_port(programs):
    echo = programs("echo.sh", 'echo "$1:$2"\n')
    assert program_result(
        f"{echo} %h %p", expect="192.0.2.7:3307", address="192.0.2.7", port=3307
    ).ok


def test_it_counts_a_non_zero_exit_as_down_unlike_nanny(programs):
    failing = programs("fail.sh", "echo UP\nexit 3\n")
    result = program_result(failing)
    assert not result.ok and result.reason.endswith("exited with status 3")


def test_it_kills_a_program_that_hangs(programs):
    hang = programs("hang.sh", "exec sleep 30\n")
    result = program_result(hang, timeout=1)
    assert not result.ok and "timed out after 1 s and was killed" in result.reason
    assert result.latency < 5


def test_it_refuses_a_program_writable_by_others(programs):
    loose = programs("loose.sh", "echo UP\n", mode=0o777)
    os.chmod(loose, 0o757)
    result = program_result(loose)
    assert (
        not result.ok and result.reason == f"refusing to run {loose}: writable by group or others"
    )


def test_it_refuses_a_program_not_owned_by_root(programs):
    mine = programs("nobody.sh", "echo UP\n")
    os.chown(mine, 65534, 65534)
    result = program_result(mine)
    assert not result.ok and "owned by uid 65534, not root" in result.reason


def test_it_refuses_a_relative_program():
    result = program_result("check.sh %h")
    assert not result.ok and "not an absolute path" in result.reason


def test_it_never_uses_a_shell(programs, tmp_path):
    marker = tmp_path / "pwned"
    echo = programs("args.sh", 'echo "$#"\n')
    # Shell syntax in the command is passed as plain arguments, never interpreted.
    assert program_result(f"{echo} ; touch {marker}", expect="3").ok
    assert not marker.exists()


def test_the_program_checks_run_as_root():
    assert os.geteuid() == 0, "ownership checks are meaningful as root, as the worker runs"
    assert stat.S_IMODE(os.stat("/bin/sh").st_mode) & 0o022 == 0


def test_a_udp_server_that_never_answers_is_down_after_the_timeout():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, so no ICMP error: the datagram is simply never answered
    port = silent.getsockname()[1]
    try:
        started = time.monotonic()
        result = run(
            probe(
                "127.0.0.1", port, CheckSpec(protocol="udp", timeout=0.5, send="ping", expect="x")
            )
        )
        waited = time.monotonic() - started
    finally:
        silent.close()
    assert not result.ok
    assert result.reason == "no UDP reply: timed out after 0.5 s"
    assert 0.5 <= waited < 3


def test_a_closed_udp_port_is_down_at_once_with_the_reason():
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: the kernel answers with ICMP port unreachable
    started = time.monotonic()
    result = run(
        probe("127.0.0.1", port, CheckSpec(protocol="udp", timeout=5, send="ping", expect="x"))
    )
    assert not result.ok
    assert result.reason == "connection refused"
    assert time.monotonic() - started < 2  # the ICMP error ends the check, not the timeout


# --- sending programs cannot become root for whoever writes a monitoring script -----------------

NOBODY = pwd.getpwnam("nobody").pw_uid


def test_a_shell_given_code_on_its_command_line_is_refused_and_never_runs(checks_dir, tmp_path):
    marker = tmp_path / "ran-as-root"
    # What a GUI login (or a write to the database) put in send_program to run as root.
    result = program_result(f"/bin/sh -c touch${{IFS}}{marker};echo${{IFS}}ok", expect="ok")
    assert not result.ok
    assert result.reason == (
        f"refusing to run /bin/sh: not in a check program directory "
        f"(LVSADMIN_CHECK_PROGRAM_DIRS: {checks_dir})"
    )
    assert not marker.exists()


def test_a_shell_copied_into_a_check_directory_is_still_refused(checks_dir, tmp_path):
    marker = tmp_path / "ran"
    shutil.copy("/bin/dash", checks_dir / "dash")
    result = program_result(f"{checks_dir}/dash -c touch${{IFS}}{marker}", expect=None)
    assert not result.ok and "an interpreter would run code from the command line" in result.reason
    assert not marker.exists()


def test_a_program_outside_the_check_directories_is_refused(checks_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    program = elsewhere / "up.sh"
    program.write_text("#!/bin/sh\necho UP\n")
    os.chmod(program, 0o755)
    result = program_result(str(program))
    assert not result.ok and "not in a check program directory" in result.reason


def test_a_symlink_leading_out_of_a_check_directory_is_refused(checks_dir):
    (checks_dir / "true").symlink_to("/bin/true")
    result = program_result(f"{checks_dir}/true", expect=None)
    assert not result.ok and "not in a check program directory" in result.reason


def test_a_group_writable_check_directory_is_refused(programs, checks_dir):
    up = programs("up.sh", "echo UP\n")
    os.chmod(checks_dir, 0o775)
    result = program_result(up)
    assert not result.ok
    assert result.reason == f"refusing to run {up}: {checks_dir} is writable by group or others"


def test_a_check_directory_owned_by_another_user_is_refused(programs, checks_dir):
    up = programs("up.sh", "echo UP\n")
    os.chown(checks_dir, NOBODY, NOBODY)
    result = program_result(up)
    assert not result.ok
    assert result.reason == f"refusing to run {up}: {checks_dir} is owned by uid {NOBODY}, not root"


def test_the_file_that_was_checked_is_the_one_that_runs(programs, checks_dir, monkeypatch):
    checked = programs("check.sh", "echo CHECKED\n")
    # A nobody-owned script renamed over the checked path between the check and the exec: the
    # worker must still run what it checked (it execs the descriptor, not the path again).
    swapped = programs("swapped.sh", "echo SWAPPED\n")
    os.chown(swapped, NOBODY, NOBODY)
    real_exec = asyncio.create_subprocess_exec

    async def swap_then_exec(*args, **kwargs):
        os.replace(swapped, checked)
        return await real_exec(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", swap_then_exec)
    result = program_result(checked, expect="CHECKED")
    assert result.ok, result.reason
    assert "SWAPPED" in Path(checked).read_text()  # the swap did happen


def test_a_program_runs_as_the_check_user_with_a_clean_environment(programs, monkeypatch):
    monkeypatch.setenv("LVSADMIN_DB_PASSWORD", "s3cret")
    whoami = programs("whoami.sh", 'echo "$(id -u) $(id -G) ${LVSADMIN_DB_PASSWORD:-clean}"\n')
    nobody = pwd.getpwnam("nobody")
    result = program_result(whoami, expect=f"{nobody.pw_uid} {nobody.pw_gid} clean")
    assert result.ok, result.reason


def test_a_program_runs_as_root_only_from_a_directory_root_opted_in(
    programs, checks_dir, monkeypatch
):
    whoami = programs("uid.sh", "id -u\n")
    assert not program_result(whoami, expect="0").ok
    allow_programs_from(monkeypatch, checks_dir, root_dirs=(checks_dir,))
    result = program_result(whoami, expect="0")
    assert result.ok, result.reason


def test_an_address_with_a_zone_id_is_never_passed_as_h(programs, tmp_path):
    marker = tmp_path / "ran"
    echo = programs("echo.sh", f'touch {marker}\necho "$1"\n')
    result = program_result(f"{echo} %h", expect=None, address="fe80::1%$(id);x")
    assert not result.ok
    assert result.reason == "refusing to pass 'fe80::1%$(id);x' as %h: not a plain IP address"
    assert not marker.exists()


# --- regex expect: linear time ------------------------------------------------------------------


def test_a_catastrophic_regex_returns_at_once():
    # Python's backtracking engine takes 2^40 steps here (hours, holding the event loop and the
    # GIL, so SIGTERM is never handled); run it in a child so a regression fails, not hangs.
    code = (
        "import time; from monitoring.checks.probes import matches; t = time.perf_counter(); "
        "r = matches(b'a' * 40 + b'b', '(a+)+$', True); print(r, time.perf_counter() - t)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=True
    )
    found, seconds = done.stdout.split()
    assert found == "False"
    assert float(seconds) < 0.05


def test_a_crafted_reply_cannot_stall_a_regex_check():
    # 25 letters: a backtracking engine needs seconds (and finishes); RE2 needs microseconds.
    spec = CheckSpec(timeout=5, send="\\n", expect="(a+)+$", use_regex=True)
    started = time.monotonic()
    result, _ = check(b"a" * 25 + b"b", spec)
    assert not result.ok and result.reason == "expected '(a+)+$', got 'aaaaaaaaaaaaaaaaaaaaaaaaab'"
    assert time.monotonic() - started < 1


def test_a_regex_re2_cannot_run_fails_the_check_with_the_reason():
    assert matches(b"abab", "(ab)", True)
    result, _ = check(b"abab", CheckSpec(timeout=2, send="\\n", expect="(ab)\\1", use_regex=True))
    assert not result.ok and "the expect regex cannot be used: invalid escape" in result.reason


def test_a_regex_looks_at_the_first_254_bytes_only_as_nannys_one_read():
    # A UDP datagram can be 64 KB; the match stays bounded whatever the reply's size.
    assert matches(b"x" * 250 + b"OK", "OK", True)
    assert not matches(b"x" * 254 + b"OK" * 30000, "OK", True)
