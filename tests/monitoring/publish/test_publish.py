"""Apply: publish the draft as a revision and write lvs.cf atomically."""

import os

import pytest
from django.contrib.auth.models import User

from monitoring.checks.probes import spec_for
from monitoring.models import Revision
from monitoring.publish import revisions as publish
from realservers.models import RealServer
from tests.support.concurrency import at_once
from virtualservers.lvsconf import files
from virtualservers.models import GlobalSettings, MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "etc" / "ha" / "lvs.cf"
    return settings.LVSADMIN_LVS_CF


@pytest.fixture
def user():
    return User.objects.create_user("alice")


@pytest.fixture
def virtual():
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80, active=True)
    MonitoringScript.objects.create(virtual_server=virtual)
    RealServer.objects.create(virtual_server=virtual, name="web1", address="10.0.0.1", active=True)
    return virtual


def test_it_writes_the_revision_text_to_lvs_cf_creating_the_directory(user, virtual, lvs_cf):
    revision = publish.publish(user, "first")
    assert lvs_cf.read_text() == revision.text
    assert (revision.serial_no, revision.created_by, revision.comment) == (1, user, "first")
    assert "serial_no = 1\n" in revision.text
    assert "virtual www {" in revision.text and "server web1 {" in revision.text


def test_it_increments_the_serial_on_each_apply(user, virtual, lvs_cf):
    serials = [publish.publish(user).serial_no for _ in range(3)]
    assert serials == [1, 2, 3]
    assert GlobalSettings.load().serial_no == 3
    assert "serial_no = 3\n" in lvs_cf.read_text()


def test_it_continues_from_an_imported_serial(user, virtual):
    GlobalSettings.objects.filter(pk=1).update(serial_no=57)
    GlobalSettings.load()
    GlobalSettings.objects.filter(pk=1).update(serial_no=57)
    assert publish.publish(user).serial_no == 58


def test_it_writes_mode_0640_with_lf_line_ends(user, virtual, lvs_cf):
    publish.publish(user)
    assert os.stat(lvs_cf).st_mode & 0o777 == 0o640
    assert b"\r" not in lvs_cf.read_bytes()
    assert lvs_cf.read_bytes().endswith(b"\n")


def test_it_leaves_no_temporary_file_behind(user, virtual, lvs_cf):
    publish.publish(user)
    publish.publish(user)
    assert os.listdir(lvs_cf.parent) == ["lvs.cf"]


def test_a_failed_write_keeps_the_old_file_and_records_no_revision(
    user, virtual, lvs_cf, monkeypatch
):
    first = publish.publish(user)
    VirtualServer.objects.update(port=8080)

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(files.os, "replace", read_only)  # the one atomic write
    with pytest.raises(publish.PublishError, match="Read-only file system"):
        publish.publish(user)
    assert lvs_cf.read_text() == first.text
    assert list(Revision.objects.values_list("serial_no", flat=True)) == [1]
    assert GlobalSettings.load().serial_no == 1
    assert os.listdir(lvs_cf.parent) == ["lvs.cf"]


def test_it_refuses_to_publish_what_does_not_parse(user, virtual, lvs_cf, monkeypatch):
    monkeypatch.setattr(publish, "render", lambda config: "virtual broken{\n")
    with pytest.raises(publish.PublishError, match="does not parse .*line 1"):
        publish.publish(user)
    assert not Revision.objects.exists()
    assert not lvs_cf.exists()


def test_it_refuses_to_publish_a_draft_that_cannot_be_rendered(user, virtual, lvs_cf, monkeypatch):
    def unwritable(config):
        raise ValueError("virtual www send: a double quote cannot be written to lvs.cf")

    monkeypatch.setattr(publish, "render", unwritable)
    with pytest.raises(publish.PublishError, match="Refusing to publish: virtual www send"):
        publish.publish(user)
    with pytest.raises(publish.PublishError, match="cannot be written to lvs.cf"):
        publish.pending_diff()
    assert not Revision.objects.exists()
    assert not lvs_cf.exists()


def test_it_snapshots_the_built_in_checks(user, virtual):
    MonitoringScript.objects.update(
        kind="mysql",
        mysql_user="mon",
        mysql_password="pw",
        mysql_database="app",
        mysql_query="SELECT 1",
        mysql_expect="1",
    )
    other = VirtualServer.objects.create(name="plain", address="192.0.2.101")
    MonitoringScript.objects.create(virtual_server=other)
    revision = publish.publish(user)
    assert revision.checks == {
        "www": {
            "kind": "mysql",
            "mysql_user": "mon",
            "mysql_password": "pw",
            "mysql_database": "app",
            "mysql_query": "SELECT 1",
            "mysql_expect": "1",
        }
    }
    assert "pw" not in revision.text


def test_the_worker_checks_with_the_mysql_settings_a_revision_published(user, virtual):
    MonitoringScript.objects.update(
        kind="mysql", mysql_user="mon", mysql_password="pw", mysql_query="SELECT 1"
    )
    revision = publish.publish(user)
    (www,) = publish.parse_text(revision.text).virtuals
    spec = spec_for(www, revision.checks["www"])
    assert (spec.kind, spec.mysql_user, spec.mysql_password) == ("mysql", "mon", "pw")
    assert (spec.mysql_database, spec.mysql_query, spec.mysql_expect) == ("", "SELECT 1", "")


def test_pending_diff_is_empty_right_after_publishing_and_ignores_the_serial(user, virtual):
    assert "+virtual www {" in publish.pending_diff()
    publish.publish(user)
    assert publish.pending_diff() == ""
    VirtualServer.objects.update(scheduler="rr")
    diff = publish.pending_diff()
    assert "-     scheduler = wlc" in diff and "+     scheduler = rr" in diff
    assert "serial_no" not in diff


def test_pending_diff_compares_with_a_file_piranha_left_behind(virtual, lvs_cf):
    lvs_cf.parent.mkdir(parents=True)
    lvs_cf.write_text("serial_no = 9\nprimary = 192.0.2.10\nservice = lvs\n")
    diff = publish.pending_diff()
    assert f"--- {lvs_cf} (not published by lvsadmin)" in diff
    assert "+virtual www {" in diff


def test_restore_brings_back_a_revision_and_its_checks(user, virtual):
    MonitoringScript.objects.update(kind="mysql", mysql_user="mon", mysql_password="pw")
    first = publish.publish(user)
    VirtualServer.objects.update(port=8080)
    RealServer.objects.all().delete()
    MonitoringScript.objects.update(kind="nanny", mysql_user="", mysql_password="")
    publish.publish(user)

    publish.restore(first)
    restored = VirtualServer.objects.get(name="www")
    assert restored.port == 80
    assert list(restored.real_servers.values_list("name", flat=True)) == ["web1"]
    script = MonitoringScript.objects.get(virtual_server=restored)
    assert (script.kind, script.mysql_user, script.mysql_password) == ("mysql", "mon", "pw")
    assert publish.pending_diff() == publish.revision_diff(
        Revision.objects.get(serial_no=2), first
    ).replace("serial 2", "published lvs.cf (serial 2)").replace("+++ serial 1", "+++ draft")
    assert publish.publish(user).serial_no == 3


def test_revision_diff_shows_what_changed_between_two_revisions(user, virtual):
    first = publish.publish(user)
    VirtualServer.objects.update(timeout=9)
    second = publish.publish(user)
    diff = publish.revision_diff(first, second)
    assert diff.startswith("--- serial 1\n+++ serial 2\n")
    assert "-     timeout = 6" in diff and "+     timeout = 9" in diff


def apply_patch(old: list[str], diff: str) -> list[str]:
    """A minimal `patch` for unified diffs: enough to check that a diff is right."""
    result, position = [], 0
    for line in diff.splitlines()[2:]:
        if line.startswith("@@"):
            start = int(line.split()[1][1:].split(",")[0])
            length = line.split()[1].split(",")[1] if "," in line.split()[1] else "1"
            start = start if length == "0" else start - 1
            result += old[position:start]
            position = start
        elif line.startswith("-"):
            assert old[position] == line[1:]
            position += 1
        elif line.startswith("+"):
            result.append(line[1:])
        else:
            assert old[position] == line[1:]
            result.append(line[1:])
            position += 1
    return result + old[position:]


@pytest.mark.parametrize("max_pairs", [publish.DIFFLIB_MAX_PAIRS, 0])
def test_unified_diff_is_a_correct_patch_for_any_edit(monkeypatch, max_pairs):
    import random

    monkeypatch.setattr(publish, "DIFFLIB_MAX_PAIRS", max_pairs)
    rng = random.Random(7)
    for _ in range(300):
        old = [rng.choice(["}", "     active = 1", f"x{rng.randrange(9)}"]) for _ in range(40)]
        new = list(old)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(new) + 1)
            action = rng.choice(["insert", "delete", "change"])
            if action == "insert":
                new.insert(at, f"new{rng.randrange(99)}")
            elif new and at < len(new):
                if action == "delete":
                    del new[at]
                else:
                    new[at] = "changed"
        diff = publish.unified_diff("\n".join(old), "\n".join(new), "a", "b")
        assert apply_patch(old, diff) == new if old != new else diff == ""


def test_unified_diff_of_a_long_file_compares_only_the_changed_middle(monkeypatch):
    # What keeps it fast, checked without a clock (a timed bound, 0.5 s, failed on a loaded
    # machine): difflib sees the changed line and its context, not the 80,000-line file.
    import difflib

    seen: list[int] = []
    real = difflib.unified_diff

    def counted(a, b, *args, **kwargs):
        seen.append(max(len(a), len(b)))
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(difflib, "unified_diff", counted)
    old = [
        f"     server rs{i % 10} {{" if i % 7 else f"         address = 192.0.2.{i % 9}"
        for i in range(80_000)
    ]
    new = list(old)
    new[40_000] = "changed"
    diff = publish.unified_diff("\n".join(old), "\n".join(new), "a", "b")
    assert "@@ -39998,7 +39998,7 @@" in diff and "+changed" in diff
    assert seen and max(seen) <= 2 * publish.DIFF_CONTEXT + 1


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x85", "\u2028", "\x1c"])
def test_diff_lines_are_the_files_lines_split_on_newline_only(separator):
    old = f"serial_no = 1\nactive_cmd = a{separator}b\n"
    new = f"serial_no = 2\nactive_cmd = a{separator}c\n"
    diff = publish.unified_diff(old, new, "old", "new")
    assert diff.split("\n")[2:] == [
        "@@ -1 +1 @@",
        f"-active_cmd = a{separator}b",
        f"+active_cmd = a{separator}c",
    ]


def test_stale_temporary_files_of_a_killed_apply_are_removed(user, virtual, lvs_cf):
    import time

    lvs_cf.parent.mkdir(parents=True, exist_ok=True)
    stale = lvs_cf.parent / ".lvs.cf.killed.tmp"
    fresh = lvs_cf.parent / ".lvs.cf.running.tmp"  # another Apply may be writing it right now
    other = lvs_cf.parent / ".other.cf.old.tmp"
    for path in (stale, fresh, other):
        path.write_text("half a file")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    publish.publish(user)
    assert sorted(os.listdir(lvs_cf.parent)) == sorted(["lvs.cf", fresh.name, other.name])


@pytest.mark.django_db(transaction=True)
def test_two_applies_at_once_take_different_serials_and_the_file_is_the_last(user, lvs_cf):
    # No GlobalSettings row yet: the first two Applies also race to create it.
    VirtualServer.objects.create(name="www", address="192.0.2.100", port=80, active=True)

    def five_applies() -> list[int]:
        return [publish.publish(user).serial_no for _ in range(5)]

    first, second = at_once(five_applies, five_applies)
    assert sorted(first + second) == list(range(1, 11))
    assert first == sorted(first) and second == sorted(second)
    assert GlobalSettings.load().serial_no == 10
    assert lvs_cf.read_text() == Revision.objects.get(serial_no=10).text
