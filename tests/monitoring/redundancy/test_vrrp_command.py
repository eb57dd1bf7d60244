"""`manage.py vrrp`: whether keepalived is wanted, a clear error when it is missing, the role."""

import json

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import Revision
from monitoring.redundancy.role import write_role

pytestmark = pytest.mark.django_db
REDUNDANT = "primary = 192.0.2.1\nbackup_active = 1\nbackup = 192.0.2.2\n"


@pytest.fixture(autouse=True)
def paths(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_ROLE_FILE = tmp_path / "director-role.json"
    settings.LVSADMIN_KEEPALIVED_CONF = tmp_path / "keepalived.conf"
    settings.LVSADMIN_KEEPALIVED_PID = tmp_path / "keepalived.pid"
    settings.LVSADMIN_WORKER_READY_FILE = tmp_path / "worker-ready"
    return settings


def test_enabled_exits_1_for_a_single_director():
    Revision.objects.create(serial_no=1, text="primary = 192.0.2.1\nbackup_active = 0\n")
    with pytest.raises(SystemExit) as exit_:
        call_command("vrrp", "--enabled")
    assert exit_.value.code == 1


def test_enabled_succeeds_with_two_directors(paths):
    paths.LVSADMIN_KEEPALIVED = "sh"  # any installed program: only its presence is checked
    Revision.objects.create(serial_no=1, text=REDUNDANT)
    call_command("vrrp", "--enabled")


def test_a_missing_keepalived_is_a_clear_error(paths):
    paths.LVSADMIN_KEEPALIVED = "keepalived-that-is-not-installed"
    Revision.objects.create(serial_no=1, text=REDUNDANT)
    for option in ("--enabled", "--exec-keepalived"):
        with pytest.raises(CommandError, match="is not installed") as error:
            call_command("vrrp", option)
        assert error.value.returncode == 2


def test_keepalived_waits_for_the_workers_configuration(paths):
    paths.LVSADMIN_KEEPALIVED = "sh"
    Revision.objects.create(serial_no=1, text=REDUNDANT)
    with pytest.raises(CommandError, match="no VRRP configuration"):
        call_command("vrrp", "--exec-keepalived", "--wait", "0.2")


def test_keepalived_starts_held_in_fault_until_the_worker_is_ready(paths, monkeypatch):
    paths.LVSADMIN_KEEPALIVED = "sh"
    Revision.objects.create(serial_no=1, text=REDUNDANT)
    paths.LVSADMIN_KEEPALIVED_CONF.write_text("vrrp_instance lvsadmin {\n}\n")
    paths.LVSADMIN_WORKER_READY_FILE.write_text("0\n")  # from before a reboot
    started = []

    def execv(binary, argv):
        started.append((paths.LVSADMIN_WORKER_READY_FILE.read_text(), argv))

    monkeypatch.setattr("os.execv", execv)
    call_command("vrrp", "--exec-keepalived")
    ((ready, argv),) = started
    assert ready == "1\n" and "--vrrp" in argv


def test_role_prints_the_role_file(paths, capsys):
    write_role(paths.LVSADMIN_ROLE_FILE, "standby", "keepalived: BACKUP", "192.0.2.1")
    call_command("vrrp", "--role")
    assert json.loads(capsys.readouterr().out)["role"] == "standby"
