"""The standby's store: a followed revision is published here as it was there (serial, text,
checks), lvs.cf is written, and the draft mirrors it for a later takeover."""

import io
import json
import time

import pytest

from monitoring.models import PeerFollowStatus, Revision
from monitoring.peersync.follow import PeerRevision, digest
from monitoring.peersync.mirror import DatabaseStore, FollowThread, write_status
from monitoring.publish.revisions import pending_diff
from tests.monitoring.peersync.test_peersync_follow import lvs_cf
from tests.support.concurrency import DeadlockOnce, InsertRace, at_once
from virtualservers.models import GlobalSettings, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def paths(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_ROLE_FILE = tmp_path / "director-role.json"
    settings.LVSADMIN_PEER_SECRET_FILE = tmp_path / "peer-secret"
    settings.LVSADMIN_PEER_URL = ""
    return tmp_path


def test_a_followed_revision_is_published_with_the_peers_serial_and_becomes_the_draft(settings):
    text = lvs_cf(42, weight=3)
    store = DatabaseStore("192.0.2.10")
    store.save(PeerRevision(42, text, {}, digest(text, {}), "more weight"), 42)
    revision = Revision.objects.get()
    assert (revision.serial_no, revision.text) == (42, text)
    assert revision.comment == "more weight (from 192.0.2.10, serial 42)"
    assert settings.LVSADMIN_LVS_CF.read_text() == text
    assert GlobalSettings.load().serial_no == 42
    assert VirtualServer.objects.get().name == "web"
    assert pending_diff() == ""  # the draft is what is published
    assert store.latest().digest == digest(text, {})


def be(settings, role: str) -> None:
    settings.LVSADMIN_ROLE_FILE.write_text(json.dumps({"role": role, "peer": "192.0.2.10"}))


def test_an_active_director_does_not_follow_and_says_so(settings):
    be(settings, "active")
    FollowThread().step()
    row = PeerFollowStatus.objects.get()
    assert (row.role, row.state) == ("active", "off")
    assert row.reason == "this director is active: it does not follow"


def test_a_standby_without_the_secret_says_it_cannot_follow(settings):
    be(settings, "standby")
    FollowThread().step()
    row = PeerFollowStatus.objects.get()
    assert row.state == "off" and row.reason.startswith("cannot follow: ")
    assert "peer-secret does not exist" in row.reason


def test_a_standby_that_cannot_reach_its_peer_keeps_its_revision_and_says_why(settings):
    be(settings, "standby")
    settings.LVSADMIN_PEER_URL = "http://127.0.0.1:9"  # discard: nobody listens
    settings.LVSADMIN_PEER_SECRET_FILE.write_text("s" * 40)
    settings.LVSADMIN_PEER_SECRET_FILE.chmod(0o600)
    Revision.objects.create(serial_no=7, text=lvs_cf(7))
    FollowThread().step()
    row = PeerFollowStatus.objects.get()
    assert (row.state, row.peer, row.local_serial) == ("unreachable", "192.0.2.10", 7)
    assert "refused" in row.reason.lower()
    assert row.failing_since is not None
    assert list(Revision.objects.values_list("serial_no", flat=True)) == [7]


def test_the_command_waits_for_a_serial_and_says_when_it_does_not_come():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="serial 7 is not published here after 0.1 s"):
        call_command("peersync", wait_serial=7, timeout=0.1)
    Revision.objects.create(serial_no=7, text=lvs_cf(7))
    out = io.StringIO()
    call_command("peersync", wait_serial=7, stdout=out)
    assert out.getvalue().startswith("serial 7 published here after ")


def test_the_command_says_when_no_peer_is_known(settings):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="this director is single and knows no peer"):
        call_command("peersync")


def test_a_director_that_does_not_follow_writes_its_status_once(settings):
    be(settings, "single")
    clock = iter(range(100, 200, 5))
    thread = FollowThread(clock=lambda: float(next(clock)))
    thread.step()
    PeerFollowStatus.objects.all().delete()
    thread.step()
    assert not PeerFollowStatus.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_followers_writing_their_first_status_at_once_both_go_on_writing():
    """Two directors on one database writing their first follow status at once, then their
    next: no error reaches either (on MariaDB the insert's loser deadlocked with the winner's
    next write, as the worker's status row did), and one row results."""
    race = InsertRace(PeerFollowStatus)

    def follower(role: str) -> None:
        with race.hook():
            for n in range(3):
                write_status(None, role, time.time(), reason=f"{role} {n}")

    at_once(lambda: follower("active"), lambda: follower("standby"))
    assert PeerFollowStatus.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_follow_status_write_chosen_as_a_deadlocks_victim_is_written_on_the_retry():
    """InnoDB rolls a deadlock's victim back and asks for a restart (error 1213): the follow
    status is written anyway, not lost with an error in the follow thread."""
    deadlock = DeadlockOnce(PeerFollowStatus, "INSERT")
    with deadlock.hook():
        write_status(None, "standby", time.time(), reason="not following")
    assert deadlock.victims == 1
    assert PeerFollowStatus.objects.get().reason == "not following"
