"""`manage.py applylvs` as a user runs it on this host (whose kernel has no IPVS)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.virtualservers.samples import sample_path

REPO = Path(__file__).resolve().parents[3]
SEED = """serial_no = 1
network = direct
virtual mysql {
     active = 1
     address = 192.0.2.240 eth0:1
     port = 3306
     scheduler = lc
     protocol = tcp
     server db1 {
         address = 192.0.2.241
         active = 1
         weight = 1
     }
     server db2 {
         address = 192.0.2.242
         active = 1
         weight = 1
     }
}
"""


def applylvs(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # A state dir with no database at all: --config must not need one.
    environ = {**os.environ, "LVSADMIN_STATE_DIR": str(tmp_path / "state"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "applylvs", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "lvs.cf"
    path.write_text(SEED)
    return path


def test_it_prints_the_operations_in_ipvsadm_syntax_on_a_dry_run(seed_file, tmp_path):
    result = applylvs(
        "--config", str(seed_file), "--dry-run", "--driver", "memory", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ipvsadm -A -t 192.0.2.240:3306 -s lc",
        "ipvsadm -a -t 192.0.2.240:3306 -r 192.0.2.241:3306 -g -w 1",
        "ipvsadm -a -t 192.0.2.240:3306 -r 192.0.2.242:3306 -g -w 1",
        "ip addr add 192.0.2.240/32 dev eth0 label eth0:1",
        "dry run: 3 operations: 1 service added, 2 real servers added, 1 VIP added",
    ]
    assert not (tmp_path / "state" / "lvsadmin.sqlite3").exists()


def test_it_says_in_one_line_that_this_kernel_has_no_ipvs(seed_file, tmp_path):
    assert not Path("/proc/net/ip_vs").exists(), "this test expects a host kernel without IPVS"
    result = applylvs("--config", str(seed_file), "--driver", "netlink", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "CommandError: this kernel has no IPVS support (modprobe ip_vs failed and /proc/net/ip_vs is missing)"
    ]


def test_it_still_shows_a_dry_run_where_the_kernel_cannot_be_read(seed_file, tmp_path):
    result = applylvs(
        "--config", str(seed_file), "--dry-run", "--driver", "netlink", tmp_path=tmp_path
    )
    assert result.returncode == 0
    assert "operations are shown from an empty table" in result.stdout
    assert "ipvsadm -A -t 192.0.2.240:3306 -s lc" in result.stdout


def test_it_names_the_line_of_a_bad_file(tmp_path):
    bad = sample_path("17-csdn-annotated-inline-comments-INVALID.cf")
    result = applylvs("--config", str(bad), "--driver", "memory", tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"{bad}: line 1: unexpected arguments" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_applies_any_piranha_sample_with_the_memory_driver(tmp_path):
    result = applylvs(
        "--config",
        str(sample_path("14-rdo-openstack-mysql-dr-indented.cf")),
        "--driver",
        "memory",
        "--no-arp",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # This sample has backup_active = 1 with a backup director: its VIP is keepalived's (VRRP),
    # so applylvs loads the table and brings no VIP up (two directors never both answer ARP).
    assert result.stdout.strip() == "3 operations: 1 service added, 2 real servers added"


def test_it_says_in_one_line_that_it_needs_root(seed_file, tmp_path, monkeypatch, settings):
    # As an ordinary user (the interpreter here lives under /root, so the user is simulated).
    from django.core.management import call_command
    from django.core.management.base import CommandError

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    with pytest.raises(CommandError) as raised:
        call_command("applylvs", "--config", str(seed_file), "--driver", "netlink")
    assert str(raised.value) == "changing the IPVS table needs root (CAP_NET_ADMIN)"
    assert raised.value.returncode != 0


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("         address = 192.0.2.241\n", "abc"),  # a real server's address
        ("     address = 192.0.2.240 eth0:1\n", "abc eth0:1"),  # the virtual server's
    ],
)
def test_a_host_name_where_an_address_belongs_is_refused_with_its_line(tmp_path, line, value):
    # The kernel's table holds addresses, and neither the worker nor applylvs resolves names:
    # `address = abc` used to reach the table builder and die there with a traceback.
    bad = tmp_path / "lvs.cf"
    key = line.split("=")[0]
    bad.write_text(SEED.replace(line, f"{key}= {value}\n", 1))
    number = SEED.splitlines().index(line.rstrip("\n")) + 1
    result = applylvs("--config", str(bad), "--dry-run", "--driver", "memory", tmp_path=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"CommandError: {bad}: line {number}: abc is a host name: an IP address is needed here "
        "(the kernel's IPVS table holds addresses, and lvsadmin resolves no names)"
    ]


def test_a_virtual_block_that_adds_nothing_is_named_with_its_line(tmp_path):
    # A check made after parsing (the table builder's) names the block's line, as the parser does.
    second = (
        "virtual again {\n     active = 1\n     address = 192.0.2.240 eth0:1\n     port = 3306\n}\n"
    )
    path = tmp_path / "lvs.cf"
    path.write_text(SEED + second)
    number = len(SEED.splitlines()) + 1
    result = applylvs("--config", str(path), "--dry-run", "--driver", "memory", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: line {number}: virtual again: TCP  192.0.2.240:3306 is already defined"
        in result.stderr
    )


# --- The cron watchdog (lvsadmin/deploy/lvsadmin-watchdog.cron) ----------------------------------


def test_the_watchdog_without_a_worker_changes_nothing_and_exits_7(seed_file, tmp_path):
    result = applylvs(
        "--watchdog",
        "--driver",
        "memory",
        tmp_path=tmp_path,
        LVSADMIN_LVS_CF=str(seed_file),
    )
    assert result.returncode == 7
    assert "no worker is running" in result.stderr and "Nothing changed." in result.stderr
    assert "Traceback" not in result.stderr
    # It applied nothing itself: no apply state was written.
    assert not list(tmp_path.glob("state/*.json"))


def test_the_watchdog_with_a_live_worker_asks_it_to_converge(seed_file, tmp_path, settings):
    import io
    import threading
    from types import SimpleNamespace

    from django.core.management import call_command

    from monitoring.ipvs.coordination import ConvergeRequests, WorkerPresence

    state = tmp_path / "apply-state.json"
    settings.LVSADMIN_LVS_CF = seed_file
    worker = WorkerPresence(state)
    assert worker.claim()
    requests = ConvergeRequests(state)
    asked: list[str] = []

    def answer() -> None:  # the worker's side: it, not applylvs, writes the table
        for _ in range(600):
            token = requests.pending()
            if token:
                asked.append(token)
                done = SimpleNamespace(summary=lambda: "nothing to do", error=None)
                requests.answer(token, done)
                return
            threading.Event().wait(0.05)

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        out = io.StringIO()
        call_command("applylvs", "--watchdog", "--state", str(state), stdout=out)
    finally:
        thread.join()
        worker.release()
    assert len(asked) == 1
    assert out.getvalue() == "the running worker converged (health included): nothing to do\n"
