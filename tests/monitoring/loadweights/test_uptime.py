"""`load_monitor = uptime`: the ssh command line, uptime's answer, and the run (with a stub in
ssh's place: nothing here leaves the machine)."""

import asyncio
import os
import stat

import pytest

from monitoring.loadweights.uptime import parse_uptime, read_uptime, uptime_argv


def test_ssh_runs_in_batch_mode_with_a_timeout_and_the_host_after_the_options():
    assert uptime_argv("/usr/bin/ssh", "/etc/lvsadmin/uptime-ssh.conf", "192.0.2.5", 6) == [
        "/usr/bin/ssh", "-F", "/etc/lvsadmin/uptime-ssh.conf",
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=6",
        "-n", "--", "192.0.2.5", "uptime",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "load"),
    [
        (" 10:01:02 up 3 days,  2:03,  1 user,  load average: 0.42, 0.30, 0.25\n", 0.42),
        ("10:01  up 3 days, 2 users, load averages: 2.50 1.90 1.20\n", 2.5),
        (" 10:01:02 up 1 min,  0 users,  load average: 1,75, 0,30, 0,25\n", 1.75),
        ("command not found\n", None),
    ],
)
def test_the_one_minute_load_is_read(line, load):
    assert parse_uptime(line) == load


def _program(tmp_path, body: str) -> str:
    path = tmp_path / "fake-ssh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(stat.S_IRWXU)
    return str(path)


def test_a_run_reads_the_load_of_its_answer(tmp_path):
    ssh = _program(tmp_path, 'echo " 10:00:00 up 1 day,  load average: 3.10, 2.00, 1.00"\n')
    reading = asyncio.run(read_uptime([ssh, "192.0.2.5", "uptime"], timeout=10))
    assert (reading.load, reading.error) == (3.1, "")


def test_a_failed_ssh_says_why(tmp_path):
    ssh = _program(tmp_path, 'echo "Host key verification failed." >&2\nexit 255\n')
    reading = asyncio.run(read_uptime([ssh], timeout=10))
    assert reading.load is None
    assert reading.error == "ssh exited with status 255: Host key verification failed."


def test_a_hanging_ssh_is_killed_at_the_timeout(tmp_path):
    ssh = _program(tmp_path, "exec sleep 30\n")
    reading = asyncio.run(read_uptime([ssh], timeout=0.3))
    assert reading.error == "uptime over ssh did not answer within 0.3 s"


def test_the_command_sees_a_clean_environment(tmp_path):
    os.environ["LVSADMIN_TEST_SECRET"] = "x"
    try:
        ssh = _program(tmp_path, 'echo "load average: ${LVSADMIN_TEST_SECRET:-0}.5"\n')
        assert asyncio.run(read_uptime([ssh], timeout=10)).load == 0.5
    finally:
        del os.environ["LVSADMIN_TEST_SECRET"]
