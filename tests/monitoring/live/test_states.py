"""monitoring.live.states.set_state (the one function the buttons, the command and the API call) and
`manage.py realserver`."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from monitoring.live import states as runtime
from monitoring.live.holds import RuntimeState
from monitoring.models import AuditEntry, RealServerRuntimeState, Revision
from virtualservers.lvsconf.model import RealServerRef

pytestmark = pytest.mark.django_db
SEED = """serial_no = 1
network = direct
virtual mysql {
     active = 1
     address = 192.0.2.240 eth0:1
     port = 3306
     server db1 {
         address = 192.0.2.241
         active = 1
     }
     server db2 {
         address = 192.0.2.242
         port = 3307
         active = 1
     }
}
"""
DB1 = RealServerRef("mysql", "192.0.2.241", 3306)
DB2 = RealServerRef("mysql", "192.0.2.242", 3307)


@pytest.fixture(autouse=True)
def published(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    Revision.objects.create(serial_no=1, text=SEED)


def held_entries():
    """The audit entries of runtime states (creating users and revisions records others)."""
    return AuditEntry.objects.filter(action__in=runtime.ACTIONS).order_by("id")


def member(role: str | None) -> User:
    user = User.objects.create_user(role or "plain", password="a long enough passphrase 7")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def test_operators_and_administrators_may_drain_viewers_may_not():
    assert member("operator").has_perm(runtime.DRAIN_SERVER)
    assert User.objects.get(pk=member("administrator").pk).has_perm(runtime.DRAIN_SERVER)
    for role in ("viewer", None):
        with pytest.raises(PermissionDenied):
            runtime.set_state(DB1, "drain", member(role))
    assert not RealServerRuntimeState.objects.exists() and not held_entries().exists()


def test_drain_maintenance_and_return_are_each_recorded_with_who_and_from_where():
    operator = member("operator")
    for action in ("drain", "maintenance", "return"):
        runtime.set_state(DB1, action, operator, "192.0.2.9")
    entries = list(held_entries().values_list("username", "address", "action"))
    assert entries == [
        ("operator", "192.0.2.9", "drain"),
        ("operator", "192.0.2.9", "maintenance"),
        ("operator", "192.0.2.9", "return"),
    ]
    last = held_entries().last()
    assert last.target == "real server 192.0.2.241:3306 of mysql"
    assert last.changes == {"runtime state": ["maintenance", "normal"]}
    assert not RealServerRuntimeState.objects.exists()


def test_asking_for_the_state_it_is_in_changes_and_records_nothing():
    runtime.set_state(DB1, "drain")
    change = runtime.set_state(DB1, "drain")
    assert not change.changed and held_entries().count() == 1
    assert not runtime.set_state(DB2, "return").changed


def test_held_now_is_what_the_worker_reads():
    runtime.set_state(DB1, "drain")
    runtime.set_state(DB2, RuntimeState.MAINTENANCE)
    assert runtime.held_now() == {DB1: RuntimeState.DRAIN, DB2: RuntimeState.MAINTENANCE}


def test_only_a_published_real_server_can_be_held_but_any_can_return():
    stranger = RealServerRef("mysql", "192.0.2.243", 3306)
    with pytest.raises(runtime.StateRefused, match="not in the published configuration"):
        runtime.set_state(stranger, "drain")
    RealServerRuntimeState.objects.create(
        virtual_name="gone", address="192.0.2.9", port=1, state="drain", since="2026-01-01T00:00Z"
    )
    assert runtime.set_state(RealServerRef("gone", "192.0.2.9", 1), "return").changed


def test_an_unknown_state_is_refused_by_name():
    with pytest.raises(runtime.StateRefused, match="choose one of drain, maintenance, return"):
        runtime.set_state(DB1, "off")


def test_the_change_is_announced_once_committed(django_capture_on_commit_callbacks):
    seen = []

    def listener(sender, ref, old, new, actor, **kwargs):
        seen.append((ref, old, new, actor.username))

    runtime.state_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            runtime.set_state(DB1, "drain", member("operator"))
        with django_capture_on_commit_callbacks(execute=True):
            runtime.set_state(DB1, "return", User.objects.get(username="operator"))
    finally:
        runtime.state_changed.disconnect(listener)
    assert seen == [
        (DB1, None, RuntimeState.DRAIN, "operator"),
        (DB1, RuntimeState.DRAIN, None, "operator"),
    ]


@pytest.mark.parametrize("name", ["mysql/db2", "mysql/192.0.2.242", "mysql/192.0.2.242:3307"])
def test_a_real_server_is_named_by_name_or_address(name):
    assert runtime.resolve(name) == DB2


@pytest.mark.parametrize(
    "name, error",
    [
        ("db2", "write VIRTUAL/REAL"),
        ("mysql/db9", "no such real server"),
        ("web/db2", "no such real server"),
    ],
)
def test_a_wrong_name_says_what_is_wrong(name, error):
    with pytest.raises(runtime.StateRefused, match=error):
        runtime.resolve(name)


def test_the_command_drains_as_the_os_user_and_lists(capsys):
    call_command("realserver", "drain", "mysql/db1")
    call_command("realserver", "maintenance", "mysql/192.0.2.242:3307")
    assert RealServerRuntimeState.objects.get(port=3306).state == "drain"
    entry = held_entries().first()
    assert entry.username.endswith(" (shell)") and entry.address == "local"
    capsys.readouterr()
    call_command("realserver", "list")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" since ")[0] for line in lines] == [
        "mysql/192.0.2.241:3306 drain",
        "mysql/192.0.2.242:3307 maintenance",
    ]
    call_command("realserver", "return", "mysql/db1")
    assert runtime.held_now() == {DB2: RuntimeState.MAINTENANCE}


def test_the_command_acting_as_a_user_checks_the_role():
    member("viewer")
    member("operator")
    with pytest.raises(CommandError, match="does not allow"):
        call_command("realserver", "drain", "mysql/db1", "--user", "viewer")
    with pytest.raises(CommandError, match="no lvsadmin user"):
        call_command("realserver", "drain", "mysql/db1", "--user", "nobody-here")
    call_command("realserver", "drain", "mysql/db1", "--user", "operator")
    (entry,) = held_entries()
    assert (entry.username, entry.address, entry.action) == ("operator", "local", "drain")
