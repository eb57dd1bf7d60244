import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.redundancy import keepalived as k
from monitoring.redundancy.hook import main as notify_main
from monitoring.redundancy.role import read_role
from virtualservers.lvsconf.parse import parse

LVS_CF = """
serial_no = 7
primary = 192.0.2.1
service = lvs
backup_active = 1
backup = 192.0.2.2
keepalive = 1
deadtime = 4
network = {network}
{nat}
monitor_links = {links}
virtual web {{
     active = 1
     address = 192.0.2.100 eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     server one {{
         address = 198.51.100.1
         active = 1
     }}
}}
virtual off {{
     active = 0
     address = 192.0.2.101 eth0:2
     port = 80
}}
"""
LOCAL_PRIMARY = [("192.0.2.1", "eth0"), ("127.0.0.1", "lo")]
LOCAL_BACKUP = [("192.0.2.2", "eth0")]


def config(network="direct", nat="", links=0):
    return parse(LVS_CF.format(network=network, nat=nat, links=links))[0]


def hooks(tmp_path):
    return k.Hooks(
        ("/usr/bin/python3", "/opt/lvsadmin/monitoring/redundancy/notify.py"),
        tmp_path / "director-role.json",
        tmp_path / "vrrp-yield",
        tmp_path / "worker-ready",
    )


def test_primary_is_found_by_its_address_and_gets_the_higher_priority():
    me = k.whoami(config(), LOCAL_PRIMARY)
    assert (me.address, me.peer, me.device, me.primary) == ("192.0.2.1", "192.0.2.2", "eth0", True)
    other = k.whoami(config(), LOCAL_BACKUP)
    assert other.peer == "192.0.2.1" and other.priority < me.priority


def test_director_with_neither_address_is_an_error():
    with pytest.raises(k.RedundancyError, match="neither the primary"):
        k.whoami(config(), [("198.51.100.9", "eth0")])


def test_backup_equal_to_primary_is_an_error():
    cfg = config()
    cfg.backup = cfg.primary
    with pytest.raises(k.RedundancyError, match="primary's own address"):
        k.whoami(cfg, LOCAL_PRIMARY)


@pytest.mark.parametrize("backup_active,backup", [(False, "192.0.2.2"), (True, "0.0.0.0")])
def test_redundancy_is_off_without_backup_active_or_a_backup_address(backup_active, backup):
    cfg = config()
    cfg.backup_active, cfg.backup = backup_active, backup
    assert not k.redundancy_on(cfg)


@pytest.mark.parametrize(
    "keepalive,deadtime,advert",
    [(6, 18, 4), (1, 4, 1), (2, 18, 2), (10, 3, 1), (6, 22, 6)],
)
def test_advert_interval_makes_the_takeover_fit_in_deadtime(keepalive, deadtime, advert):
    timers = k.vrrp_timers(keepalive, deadtime)
    assert timers.advert_int == advert
    assert timers.master_down == pytest.approx(k.master_down_interval(advert), abs=0.01)


def test_deadtime_under_one_vrrp_cycle_is_reported_as_not_kept():
    assert not k.vrrp_timers(1, 3).within_deadtime
    assert k.vrrp_timers(1, 4).within_deadtime


def test_config_has_one_instance_and_never_a_virtual_server(tmp_path):
    text = k.render(config(), k.whoami(config(), LOCAL_PRIMARY), hooks(tmp_path), serial=7)
    assert text.count("vrrp_instance ") == 1
    assert "virtual_server" not in text
    assert "state BACKUP" in text and "nopreempt" in text
    assert "unicast_src_ip 192.0.2.1" in text
    assert "unicast_peer {\n        192.0.2.2\n    }" in text
    assert "advert_int 1" in text and "priority 150" in text
    assert "auth_type PASS" in text


def test_only_active_virtual_servers_vips_with_device_and_label(tmp_path):
    text = k.render(config(), k.whoami(config(), LOCAL_PRIMARY), hooks(tmp_path))
    assert "192.0.2.100/24 dev eth0 label eth0:1" in text
    assert "192.0.2.101" not in text


def test_nat_router_address_moves_with_the_vips(tmp_path):
    cfg = config("nat", "nat_router = 198.51.100.254 eth1:1\nnat_nmask = 255.255.255.0")
    text = k.render(cfg, k.whoami(cfg, LOCAL_PRIMARY), hooks(tmp_path))
    assert "198.51.100.254/24 dev eth1 label eth1:1" in text


def test_monitor_links_tracks_the_interfaces(tmp_path):
    text = k.render(config(links=1), k.whoami(config(), LOCAL_PRIMARY), hooks(tmp_path))
    assert "dont_track_primary" not in text  # the instance's own interface: tracked
    cfg = config("nat", "nat_router = 198.51.100.254 eth1:1", links=1)
    nat = k.render(cfg, k.whoami(cfg, LOCAL_PRIMARY), hooks(tmp_path))
    assert "track_interface {\n        eth1\n    }" in nat
    off = k.render(config(links=0), k.whoami(config(), LOCAL_PRIMARY), hooks(tmp_path))
    assert "track_interface" not in off and "dont_track_primary" in off


def test_notify_hooks_name_each_state_and_the_role_file(tmp_path):
    text = k.render(config(), k.whoami(config(), LOCAL_BACKUP), hooks(tmp_path))
    role_file = tmp_path / "director-role.json"
    for event, state in (("master", "MASTER"), ("backup", "BACKUP"), ("fault", "FAULT")):
        assert (
            f'notify_{event} "/usr/bin/python3 /opt/lvsadmin/monitoring/redundancy/notify.py '
            f"--role-file {role_file} --yield-file {tmp_path / 'vrrp-yield'} "
            f'--ready-file {tmp_path / "worker-ready"} --peer 192.0.2.1 {state}"'
        ) in text


def test_a_path_keepalived_cannot_quote_is_refused(tmp_path):
    bad = k.Hooks(("/usr/bin/python3", '/opt/x"; rm -rf /'), tmp_path / "r", tmp_path / "y")
    with pytest.raises(k.RedundancyError, match="cannot quote"):
        k.render(config(), k.whoami(config(), LOCAL_PRIMARY), bad)


def test_both_directors_share_the_password_and_a_secret_changes_it():
    cfg = config()
    primary, backup = k.whoami(cfg, LOCAL_PRIMARY), k.whoami(cfg, LOCAL_BACKUP)
    assert k.auth_pass("", primary, 51) == k.auth_pass("", backup, 51)
    assert k.auth_pass("s3cret", primary, 51) != k.auth_pass("", primary, 51)
    assert len(k.auth_pass("s3cret", primary, 51)) == 8


def test_write_if_changed_writes_once(tmp_path):
    path = tmp_path / "keepalived.conf"
    assert k.write_if_changed(path, "a\n")
    assert not k.write_if_changed(path, "a\n")
    assert k.write_if_changed(path, "b\n")
    assert path.read_text() == "b\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keepalived.conf"]


def test_reload_without_a_running_keepalived_says_so(tmp_path):
    assert not k.reload(tmp_path / "missing.pid")
    (tmp_path / "stale.pid").write_text("999999999\n")
    assert not k.reload(tmp_path / "stale.pid")


def test_reload_sends_sighup_to_the_pid(tmp_path):
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal,sys,time\n"
            "signal.signal(signal.SIGHUP, lambda *a: sys.exit(7))\n"
            "print('ready', flush=True)\ntime.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    child.stdout.readline()
    (tmp_path / "k.pid").write_text(f"{child.pid}\n")
    assert k.reload(tmp_path / "k.pid")
    assert child.wait(10) == 7


def test_notify_program_records_the_role(tmp_path):
    role_file, yield_file = tmp_path / "r.json", tmp_path / "y"
    args = ["--role-file", str(role_file), "--yield-file", str(yield_file), "--peer", "192.0.2.2"]
    notify_main([*args, "MASTER"])
    assert read_role(role_file).role == "active"
    yield_file.write_text("1\n")
    notify_main([*args, "FAULT"])
    role = read_role(role_file)
    assert role.role == "fault" and "handing the active role" in role.reason
    notify_main([*args, "BACKUP"])
    assert read_role(role_file).role == "standby"


def test_the_instance_waits_in_fault_for_the_worker_ready_file(tmp_path):
    text = k.render(config(), k.whoami(config(), LOCAL_BACKUP), hooks(tmp_path))
    track = text[text.index(f"\ntrack_file {k.READY_TRACK}") :].split("}", 1)[0]
    assert f'file "{tmp_path / "worker-ready"}"' in track
    assert "weight 0" in track  # any non-zero number: FAULT
    assert "init_file 1" in track and "overwrite" not in track  # a reload never resets it
    instance = text[text.index("vrrp_instance") :]
    tracked = instance[instance.index("track_file {") :].split("}", 1)[0]
    assert k.YIELD_TRACK in tracked and k.READY_TRACK in tracked
    assert f"--ready-file {tmp_path / 'worker-ready'}" in text  # the notify hook can say why


def test_hold_until_ready_then_mark_ready(tmp_path):
    ready = tmp_path / "worker-ready"
    k.hold_until_ready(ready)
    assert ready.read_text() == "1\n"
    assert k.mark_ready(ready) and ready.read_text() == "0\n"
    assert not k.mark_ready(ready)  # unchanged: not written again


def test_notify_says_a_fault_is_the_wait_for_the_worker(tmp_path):
    role_file, ready = tmp_path / "r.json", tmp_path / "worker-ready"
    args = ["--role-file", str(role_file), "--yield-file", str(tmp_path / "y")]
    args += ["--ready-file", str(ready), "--peer", "192.0.2.2"]
    k.hold_until_ready(ready)
    notify_main([*args, "FAULT"])
    role = read_role(role_file)
    assert role.role == "fault" and "worker has loaded the IPVS table" in role.reason
    k.mark_ready(ready)
    notify_main([*args, "FAULT"])
    assert "tracked link is down" in read_role(role_file).reason


def test_notify_program_runs_as_keepalived_runs_it(tmp_path):
    script = Path(k.__file__).with_name("hook.py")
    role_file = tmp_path / "r.json"
    env = {"PATH": os.environ.get("PATH", "")}
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--role-file",
            str(role_file),
            "--yield-file",
            str(tmp_path / "y"),
            "--peer",
            "192.0.2.1",
            "BACKUP",
        ],
        check=True,
        cwd="/",
        env=env,
    )
    assert read_role(role_file).role == "standby"
    assert read_role(role_file).peer == "192.0.2.1"


def test_generated_config_passes_keepalived_own_check(tmp_path):
    # keepalived -t wants the devices to exist and not be lo: give it a network namespace of its
    # own with a veth pair eth0-eth1, so the host's interfaces are never looked at nor touched.
    script = Path(k.__file__).with_name("hook.py").resolve()
    cfg = config("nat", "nat_router = 198.51.100.254 eth1:1", links=1)
    for local in (LOCAL_PRIMARY, LOCAL_BACKUP):
        conf = tmp_path / "keepalived.conf"
        hooks_ = k.Hooks(
            (sys.executable, str(script)), tmp_path / "r", tmp_path / "y", tmp_path / "ready"
        )
        conf.write_text(k.render(cfg, k.whoami(cfg, local), hooks_))
        check = subprocess.run(
            [
                "unshare",
                "--net",
                "--",
                "sh",
                "-c",
                'ip link add eth0 type veth peer name eth1 && exec keepalived -t -l -f "$0"',
                str(conf),
            ],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr


def test_pid_files_left_by_a_keepalived_that_died_are_removed_before_a_start(tmp_path):
    """After a reboot the state directory's pid files name other processes (here: this test's
    own); keepalived would refuse to start on them."""
    import os

    from monitoring.redundancy import keepalived as kd

    pid_file = tmp_path / "keepalived.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a keepalived
    kd.vrrp_pid_file(pid_file).write_text("999999999\n")  # no such process
    removed = kd.clear_stale_pid_files(pid_file)
    assert set(removed) == {pid_file, kd.vrrp_pid_file(pid_file)}
    assert not pid_file.exists() and not kd.vrrp_pid_file(pid_file).exists()
    assert kd.clear_stale_pid_files(pid_file) == []  # nothing left to remove


def test_a_zombie_keepalived_is_not_running_and_its_pid_files_are_removed(tmp_path):
    """A keepalived killed with -9 leaves its VRRP child a zombie whose pid still answers signal
    0: it was taken for a running keepalived, so keepalived refused to start again ("daemon is
    already running", seen in the lab) and the worker would SIGHUP a dead process."""
    import shutil
    import time

    from monitoring.redundancy import keepalived as kd

    binary = tmp_path / "keepalived"  # the process's name is its executable's
    shutil.copy("/bin/true", binary)
    zombie = subprocess.Popen([binary])  # exits at once; not waited for: a zombie
    try:
        stat = Path(f"/proc/{zombie.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            time.sleep(0.01)
        pid_file = tmp_path / "keepalived.pid"
        for path in (pid_file, kd.vrrp_pid_file(pid_file)):
            path.write_text(f"{zombie.pid}\n")
        assert kd.running_pid(pid_file) is None
        assert kd.reload(pid_file) is False
        assert set(kd.clear_stale_pid_files(pid_file)) == {pid_file, kd.vrrp_pid_file(pid_file)}
    finally:
        zombie.wait()


def test_a_live_keepalived_keeps_its_pid_files(tmp_path):
    import shutil

    from monitoring.redundancy import keepalived as kd

    binary = tmp_path / "keepalived"
    shutil.copy("/bin/sleep", binary)
    live = subprocess.Popen([binary, "30"])
    try:
        pid_file = tmp_path / "keepalived.pid"
        pid_file.write_text(f"{live.pid}\n")
        assert kd.running_pid(pid_file) == live.pid
        assert kd.clear_stale_pid_files(pid_file) == []
        assert pid_file.exists()
    finally:
        live.kill()
        live.wait()
