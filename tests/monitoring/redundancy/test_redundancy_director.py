"""The worker's redundancy step on plain data: keepalived's file, the role, the sync daemon."""

import subprocess
import sys
import time
from dataclasses import replace

import pytest

from monitoring.ipvs.drivers.base import KERNEL_SYNC_CADENCE, KernelAddress, SyncCadence, SyncDaemon
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.redundancy import keepalived
from monitoring.redundancy.director import (
    RedundancyControl,
    RedundancyPaths,
    hand_over,
    handing_over,
    wanted_sync_daemon,
)
from monitoring.redundancy.role import DirectorRole, read_role, write_role
from virtualservers.lvsconf.parse import parse

LVS_CF = """
primary = 192.0.2.1
backup_active = {on}
backup = 192.0.2.2
keepalive = 1
deadtime = {deadtime}
network = direct
syncdaemon = {sync}
syncd_iface = eth0
syncd_id = 9
virtual web {{
     active = 1
     address = 192.0.2.100 eth0:1
     port = 80
}}
"""


def config(on=1, sync=1, deadtime=4):
    return parse(LVS_CF.format(on=on, sync=sync, deadtime=deadtime))[0]


@pytest.fixture
def paths(tmp_path):
    return RedundancyPaths(
        conf=tmp_path / "keepalived.conf",
        pid_file=tmp_path / "keepalived.pid",
        role_file=tmp_path / "director-role.json",
        yield_file=tmp_path / "vrrp-yield",
        notify=("/usr/bin/python3", "/opt/lvsadmin/notify.py"),
        ready_file=tmp_path / "worker-ready",
    )


@pytest.fixture
def driver():
    return MemoryDriver(address_list=[KernelAddress("192.0.2.1", 24, "eth0", "eth0")])


@pytest.fixture
def keepalived_process(paths, tmp_path):
    """A stand-in keepalived: a process that counts its SIGHUPs in a file."""
    hups = tmp_path / "hups"
    child = subprocess.Popen(
        [sys.executable, "-c", "import signal,sys,time\n"
         f"signal.signal(signal.SIGHUP, lambda *a: open({str(hups)!r}, 'a').write('h'))\n"
         "print('ready', flush=True)\nwhile True: time.sleep(1)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    child.stdout.readline()
    paths.pid_file.write_text(f"{child.pid}\n")
    yield hups
    child.kill()
    child.wait()


def installed(_name):
    return "/usr/sbin/keepalived"


def missing(_name):
    return None


def test_single_director_writes_no_file_at_all(paths, driver):
    control = RedundancyControl(paths, installed)
    control.step(config(on=0, sync=0), driver, 1)
    assert not paths.role_file.exists() and not paths.conf.exists()
    assert read_role(paths.role_file).role == "single"


def test_turning_redundancy_off_makes_the_role_single_again(paths, driver):
    write_role(paths.role_file, "standby", "keepalived: BACKUP")
    RedundancyControl(paths, installed).step(config(on=0), driver, 1)
    assert read_role(paths.role_file).role == "single"


def test_missing_keepalived_is_a_fault_that_says_so(paths, driver):
    control = RedundancyControl(paths, missing)
    control.step(config(), driver, 1)
    assert "keepalived (keepalived) is not installed" in control.state.message
    assert read_role(paths.role_file).role == "fault"
    assert not read_role(paths.role_file).serves


def test_keepalived_not_running_is_reported_and_its_config_written(paths, driver):
    control = RedundancyControl(paths, installed)
    control.step(config(), driver, 3)
    assert "keepalived is not running" in control.state.message
    assert "vrrp_instance lvsadmin" in paths.conf.read_text()
    assert "revision 3" in paths.conf.read_text()


def test_director_with_neither_address_is_a_fault(paths):
    control = RedundancyControl(paths, installed)
    control.step(config(), MemoryDriver(), 1)
    assert "neither the primary" in control.state.message
    assert read_role(paths.role_file).role == "fault"


def test_keepalived_is_reloaded_only_when_its_config_changes(paths, driver, keepalived_process):
    control = RedundancyControl(paths, installed)
    write_role(paths.role_file, "standby", "keepalived: BACKUP", "192.0.2.2")
    control.step(config(), driver, 1)
    control.step(config(), driver, 1)
    control.step(config(), driver, 1)
    assert control.state.message == ""
    deadline = time.monotonic() + 5
    while not keepalived_process.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert keepalived_process.read_text() == "h"
    control.step(config(), driver, 2)  # another revision: the comment changes
    deadline = time.monotonic() + 5
    while keepalived_process.read_text() != "hh" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert keepalived_process.read_text() == "hh"


def test_deadtime_vrrp_cannot_keep_is_a_warning(paths, driver, keepalived_process):
    write_role(paths.role_file, "standby", "keepalived: BACKUP")
    control = RedundancyControl(paths, installed)
    control.step(config(deadtime=3), driver, 1)
    assert "deadtime 3 s is shorter than VRRP can promise" in control.state.message
    assert control.state.takeover_seconds == pytest.approx(3.61)


def test_sync_daemon_follows_the_role(paths, driver, keepalived_process):
    control = RedundancyControl(paths, installed)
    write_role(paths.role_file, "active", "keepalived: MASTER")
    control.step(config(), driver, 1)
    assert driver.sync_daemons() == [SyncDaemon("master", "eth0", 9)]
    write_role(paths.role_file, "standby", "keepalived: BACKUP")
    control.step(config(), driver, 1)
    assert driver.sync_daemons() == [SyncDaemon("backup", "eth0", 9)]
    sent = driver.messages_sent
    control.step(config(), driver, 1)
    assert driver.messages_sent == sent  # nothing to switch: nothing sent
    write_role(paths.role_file, "fault", "link down")
    control.step(config(), driver, 1)
    assert driver.sync_daemons() == [SyncDaemon("backup", "eth0", 9)]


def test_ready_only_once_the_table_is_loaded_and_the_sync_daemon_switched(
    paths, driver, keepalived_process
):
    keepalived.hold_until_ready(paths.ready_file)  # keepalived has just started
    control = RedundancyControl(paths, installed)
    write_role(paths.role_file, "fault", "keepalived: FAULT")
    control.step(config(), driver, 1, table_loaded=False)
    assert paths.ready_file.read_text() == "1\n"  # keepalived stays in FAULT
    control.step(config(), driver, 1, table_loaded=True)
    assert paths.ready_file.read_text() == "0\n"
    assert driver.sync_daemons() == [SyncDaemon("backup", "eth0", 9)]  # already receiving


def test_a_restarted_worker_never_puts_a_serving_director_in_fault(
    paths, driver, keepalived_process
):
    paths.ready_file.write_text("0\n")
    write_role(paths.role_file, "active", "keepalived: MASTER")
    RedundancyControl(paths, installed).step(config(), driver, 1, table_loaded=False)
    assert paths.ready_file.read_text() == "0\n"


def test_an_upgrade_reloading_a_running_keepalived_does_not_put_it_in_fault(
    paths, driver, keepalived_process
):
    # keepalived runs on a configuration without the worker-ready track (started by the old
    # code); the new worker's first step, before its first apply, adds the track and reloads.
    write_role(paths.role_file, "active", "keepalived: MASTER")
    RedundancyControl(paths, installed).step(config(), driver, 1, table_loaded=False)
    assert paths.ready_file.read_text() == "0\n"  # so init_file does not create it as 1
    assert "lvsadmin_worker_ready" in paths.conf.read_text()


def test_a_single_director_has_no_ready_file(paths, driver):
    RedundancyControl(paths, installed).step(config(on=0), driver, 1, table_loaded=True)
    assert not paths.ready_file.exists()


def test_busy_connections_are_sent_to_the_standby_again_every_sync_refresh(
    paths, driver, keepalived_process
):
    control = RedundancyControl(paths, installed)
    for role in ("standby", "active"):  # the standby is the next master: both alike
        driver.set_sync_cadence(KERNEL_SYNC_CADENCE)
        write_role(paths.role_file, role, "keepalived")
        control.step(config(), driver, 1)
        assert driver.sync_cadence() == SyncCadence(3, 0, 10, 1)


def test_the_kernels_sync_cadence_is_left_alone_when_asked_or_without_sync_daemon(
    paths, driver, keepalived_process
):
    write_role(paths.role_file, "active", "keepalived: MASTER")
    RedundancyControl(paths, installed).step(config(sync=0), driver, 1)
    assert driver.sync_cadence() == KERNEL_SYNC_CADENCE
    kernel_only = replace(paths, sync_refresh=0)
    RedundancyControl(kernel_only, installed).step(config(), driver, 1)
    assert driver.sync_cadence() == KERNEL_SYNC_CADENCE
    assert driver.sync_daemons() == [SyncDaemon("master", "eth0", 9)]


def test_sync_daemon_off_stops_the_one_it_started_and_no_other(paths, driver, keepalived_process):
    control = RedundancyControl(paths, installed)
    write_role(paths.role_file, "active", "keepalived: MASTER")
    control.step(config(), driver, 1)
    control.step(config(sync=0), driver, 1)
    assert driver.sync_daemons() == []
    driver.start_sync_daemon("backup", "eth1", 1)  # someone's own, by hand
    control.step(config(sync=0), driver, 1)
    assert driver.sync_daemons() == [SyncDaemon("backup", "eth1", 1)]


def test_single_director_with_sync_daemon_runs_master():
    assert wanted_sync_daemon(config(on=0), DirectorRole("single")) == SyncDaemon(
        "master", "eth0", 9
    )
    assert wanted_sync_daemon(config(sync=0), DirectorRole("active")) is None


def test_hand_over_flag_is_cleared_after_one_takeover_interval(paths, driver, keepalived_process):
    write_role(paths.role_file, "active", "keepalived: MASTER")
    hand_over(paths.yield_file)
    assert handing_over(paths.yield_file)
    now = time.time()
    RedundancyControl(paths, installed, clock=lambda: now + 1).step(config(), driver, 1)
    assert handing_over(paths.yield_file)
    RedundancyControl(paths, installed, clock=lambda: now + 5).step(config(), driver, 1)
    assert not handing_over(paths.yield_file)
    assert paths.yield_file.read_text() == "0\n"


def test_no_yield_file_means_no_hand_over(paths):
    assert not handing_over(paths.yield_file)


def test_a_problem_of_ours_leaves_a_running_keepalived_role_alone(paths, keepalived_process):
    write_role(paths.role_file, "active", "keepalived: MASTER", "192.0.2.2")
    control = RedundancyControl(paths, installed)
    control.step(config(), MemoryDriver(), 1)  # no address of ours: cannot render
    assert "neither the primary" in control.state.message
    assert read_role(paths.role_file).role == "active"


def test_keepalived_starting_during_the_step_keeps_its_first_notification(
    paths, driver, keepalived_process, monkeypatch
):
    """keepalived starts and notifies BACKUP right after the worker found it not running: the
    worker's fault must not overwrite that notification (keepalived will not repeat it until its
    next transition, so the role file would say "fault" for a working standby)."""
    from monitoring.redundancy import director
    from monitoring.redundancy import hook as notify

    real_running_pid = director.keepalived.running_pid
    control = RedundancyControl(paths, installed)
    monkeypatch.setattr(director.keepalived, "running_pid", lambda pid_file: None)
    control.step(config(), driver, 1)  # polls while keepalived is not running yet
    assert read_role(paths.role_file).role == "fault"
    looks = []

    def starting_keepalived(pid_file):
        looks.append(pid_file)
        if len(looks) == 1:  # the step's look: not running yet; then it starts and notifies
            notify.notify(paths.role_file, paths.yield_file, "192.0.2.2", "BACKUP")
            return None
        return real_running_pid(pid_file)

    monkeypatch.setattr(director.keepalived, "running_pid", starting_keepalived)
    control.step(config(), driver, 1)
    assert read_role(paths.role_file).role == "standby"
    assert read_role(paths.role_file).reason == "keepalived: BACKUP (the peer holds the VIPs)"


def test_the_notify_hook_waits_for_the_workers_role_lock(paths):
    """The hook and the worker never write the role file at once."""
    import threading

    from monitoring.redundancy import hook as notify
    from monitoring.redundancy.role import role_lock

    done = threading.Event()
    with role_lock(paths.role_file):
        hook = threading.Thread(
            target=lambda: (
                notify.notify(paths.role_file, paths.yield_file, "", "MASTER"),
                done.set(),
            )
        )
        hook.start()
        assert not done.wait(0.3), "the hook wrote while the worker held the lock"
        write_role(paths.role_file, "fault", "the worker's own fault")
    assert done.wait(5)
    hook.join()
    assert read_role(paths.role_file).role == "active"
