"""The README's production layout, followed step by step: a checkout owned by root, a virtualenv
made by `make venv` with Debian's python3, the state directory and /etc/sysconfig/ha with the
documented owners and modes, and gunicorn running as an unprivileged system user. Logging in and
Apply work, lvs.cf lands with the documented mode, and no process of the GUI runs as root.

Needs root (it creates a system user), as `make test` runs."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from scripts.testbed.gui_client import Client, free_port, wait_for_listener

REPO = Path(__file__).resolve().parents[2]
USER = "lvsadmin-ci"
PASSWORD = "production layout 1"


def check_out(target: Path) -> None:
    """The working tree's files with the modes a checkout gives them (0644, 0755 if executable),
    whatever umask the files here were written with."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():
            continue
        copy = target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        copy.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)


def as_user(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    # runuser keeps the environment (no -l) and drops every privilege of root; umask 027 is the
    # unit's UMask=.
    return subprocess.run(
        ["runuser", "-u", USER, "--", "sh", "-c", 'umask 027 && exec "$@"', "sh", *command],
        **kwargs,
    )


def uids_of(pid: int) -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {int(uid) for uid in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()}


def gui_processes(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


@pytest.fixture
def layout():
    assert os.geteuid() == 0, "the production layout test creates a system user: run it as root"
    created_user = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", USER],
            check=True,
        )
        created_user = True
    # Not under pytest's tmp_path: that is 0700 root, which the service user could not traverse.
    root = Path(tempfile.mkdtemp(prefix="lvsadmin-prod-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if created_user:
            subprocess.run(["userdel", USER], check=False)


def test_the_gui_runs_unprivileged_in_the_documented_layout_and_can_log_in_and_apply(
    layout: Path,
) -> None:
    opt = layout / "opt" / "lvsadmin"
    # README: check out into /opt/lvsadmin and `make venv`, as root with the system's python3
    # and root's usual umask (the settings module this test process loaded set 027).
    previous = os.umask(0o022)
    try:
        check_out(opt)
        subprocess.run(
            ["make", "-s", "venv", "PYTHON=/usr/bin/python3"],
            cwd=opt,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.umask(previous)
    state = layout / "var" / "lib" / "lvsadmin"
    ha = layout / "etc" / "sysconfig" / "ha"
    subprocess.run(["install", "-d", "-o", USER, "-g", USER, "-m", "0750", str(state)], check=True)
    subprocess.run(["install", "-d", "-o", "root", "-g", USER, "-m", "0770", str(ha)], check=True)
    port = free_port()
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "LVSADMIN_STATE_DIR": str(state),
        "LVSADMIN_LVS_CF": str(ha / "lvs.cf"),
        "LVSADMIN_APPLY_STATE": str(state / "apply-state.json"),
        "LVSADMIN_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "LVSADMIN_BIND": f"127.0.0.1:{port}",
        "LVSADMIN_WORKERS": "2",
    }
    python = str(opt / ".venv" / "bin" / "python")
    # `make venv` built the worker's C module (the connect scanner's) for Debian's python3.
    loaded = as_user(
        [python, "-c", "import monitoring.checks.scanner as s; print(s.Flights.__module__)"],
        cwd=opt, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert loaded.stdout.strip() == "monitoring.checks._plainconnect", loaded.stderr
    as_user([python, "manage.py", "migrate", "-v0"], cwd=opt, env=env, check=True)
    as_user(
        [python, "manage.py", "lvspasswd"],
        cwd=opt,
        env=env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
    )
    log = (layout / "gunicorn.log").open("w")
    gunicorn = subprocess.Popen(
        ["runuser", "-u", USER, "--", "sh", "-c", "umask 027 && exec \"$@\"", "sh",
         str(opt / ".venv" / "bin" / "gunicorn"), "-c", "lvsadmin/gunicorn.conf.py",
         "lvsadmin.wsgi:application"],
        cwd=opt,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_listener(port, gunicorn, layout / "gunicorn.log")

        # runuser's own process is root until it execs; gunicorn's master is its child.
        master = int(Path(f"/proc/{gunicorn.pid}/task/{gunicorn.pid}/children").read_text())
        running = gui_processes(master)
        assert len(running) >= 2, "gunicorn started no worker"
        service_uid = pwd.getpwnam(USER).pw_uid
        for pid in running:
            assert uids_of(pid) == {service_uid}, f"GUI process {pid} runs with {uids_of(pid)}"

        client = Client(port, Counter())
        client.request("GET", "/accounts/login/")
        status, _ = client.request(
            "POST", "/accounts/login/", {"username": "piranha", "password": PASSWORD}
        )
        assert status == 302, (layout / "gunicorn.log").read_text()
        status, page = client.request("GET", "/")
        assert status == 200
        status, _ = client.request("POST", "/apply/", {"comment": "first apply as lvsadmin"})
        assert status == 302, (layout / "gunicorn.log").read_text()
        status, page = client.request("GET", "/")
        assert "first apply as lvsadmin" in page

        lvs_cf = ha / "lvs.cf"
        assert lvs_cf.exists(), "Apply wrote no lvs.cf"
        assert "serial_no" in lvs_cf.read_text()
        written = lvs_cf.stat()
        assert stat.S_IMODE(written.st_mode) == 0o640
        assert written.st_uid == service_uid
        # The service user cannot change its own code.
        probe = as_user(["touch", str(opt / "manage.py")], capture_output=True, check=False)
        assert probe.returncode != 0
        assert client.statuses[500] == 0
    finally:
        gunicorn.terminate()
        try:
            gunicorn.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
        log.close()
