"""The standby's GUI is read-only for configuration, says where to edit, and shows how it
follows; a single director (no role file) is unchanged."""

import json
from datetime import timedelta

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone

from monitoring.models import PeerFollowStatus, Revision
from monitoring.peersync import mirror
from monitoring.peersync.tags import follow_lines
from monitoring.publish.revisions import PUBLISH_REVISION
from tests.lvsadmin.test_every_url_needs_login import all_urls, objects  # noqa: F401 (fixture)
from tests.lvsadmin.test_roles import client_for, draft_state, member
from tests.virtualservers.test_views_virtual import form_data
from virtualservers.models import VirtualServer
from virtualservers.tabs import CHANGE_DRAFT, TOGGLE_SERVER

pytestmark = pytest.mark.django_db
BANNER = "This director is the standby; edit on 192.0.2.10"


@pytest.fixture(autouse=True)
def paths(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_ROLE_FILE = tmp_path / "director-role.json"
    settings.LVSADMIN_PEER_URL = ""
    return tmp_path


def be(settings, role: str) -> None:
    settings.LVSADMIN_ROLE_FILE.write_text(
        json.dumps({"role": role, "since": 1.0, "reason": "test", "peer": "192.0.2.10"})
    )


@pytest.fixture
def admin():
    return client_for(member("administrator"))


def test_a_configuration_edit_on_the_standby_is_refused_and_says_where_to_edit(
    settings,
    objects,  # noqa: F811
    admin,
):
    be(settings, "standby")
    vs = VirtualServer.objects.get()
    response = admin.post(reverse("virtualservers:virtual_edit", args=[vs.pk]), form_data())
    assert response.status_code == 403
    page = response.content.decode()
    assert BANNER in page and 'href="http://192.0.2.10:3636/"' in page
    assert "Nothing was changed" in page
    assert VirtualServer.objects.get().name == "mysql"


def configuration_views():
    for entry in get_resolver().url_patterns:
        for pattern in getattr(entry, "url_patterns", [entry]):
            needed = getattr(pattern.callback, "required_permission", None)
            if needed in (CHANGE_DRAFT, TOGGLE_SERVER, PUBLISH_REVISION):
                yield pattern.name


def test_every_configuration_view_refuses_a_post_on_the_standby(
    settings,
    objects,  # noqa: F811
    admin,
):
    be(settings, "standby")
    names = set(configuration_views())
    assert {"virtual_edit", "virtual_toggle", "apply", "revision_restore", "real_add"} <= names
    before = draft_state()
    for name, url in all_urls(objects):
        if name in names:
            assert admin.post(url).status_code == 403, (name, url)
    assert draft_state() == before


def test_the_admin_pages_of_the_configuration_refuse_changes_on_the_standby(
    settings,
    objects,  # noqa: F811
):
    be(settings, "standby")
    client = client_for(member("administrator", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/virtualservers/virtualserver/",
        {"action": "delete_selected", "_selected_action": [objects["pk"]], "post": "yes"},
    )
    assert response.status_code == 403
    assert VirtualServer.objects.count() == 1


def test_pages_show_the_banner_and_hide_the_configuration_buttons_on_the_standby(
    settings,
    objects,  # noqa: F811
    admin,
):
    be(settings, "standby")
    control = admin.get(reverse("monitoring:control")).content.decode()
    assert BANNER in control
    assert reverse("monitoring:apply") not in control
    listing = admin.get(reverse("virtualservers:virtual_list")).content.decode()
    assert "VIEW" in listing and "(DE)ACTIVATE" not in listing and "DELETE" not in listing


def test_runtime_operations_stay_allowed_on_the_standby(settings, admin):
    be(settings, "standby")
    assert admin.post(reverse("logout")).status_code == 302


@pytest.mark.parametrize("role", ["single", "active", "fault", None])
def test_other_roles_and_a_single_director_edit_as_before(
    settings,
    objects,  # noqa: F811
    admin,
    role,
):
    if role is not None:
        be(settings, role)
    vs = VirtualServer.objects.get()
    response = admin.post(
        reverse("virtualservers:virtual_edit", args=[vs.pk]), form_data(name="renamed")
    )
    assert response.status_code == 302
    assert VirtualServer.objects.get().name == "renamed"
    control = admin.get(reverse("monitoring:control")).content.decode()
    assert "This director is the standby" not in control
    assert reverse("monitoring:apply") in control


def status(**values) -> PeerFollowStatus:
    now = timezone.now()
    defaults = {
        "peer": "192.0.2.10",
        "role": "standby",
        "state": "following",
        "peer_serial": 42,
        "local_serial": 42,
        "matches": True,
        "last_contact": now - timedelta(seconds=3),
        "updated_at": now,
    }
    return PeerFollowStatus.objects.create(pk=1, **{**defaults, **values})


def test_control_says_what_the_standby_follows_and_when_it_last_heard(settings, admin):
    be(settings, "standby")
    status()
    page = admin.get(reverse("monitoring:control")).content.decode()
    assert "following 192.0.2.10: revision 42, last contact 3 s ago" in page
    assert "peer configuration matches" in page


def test_control_says_since_when_the_peer_cannot_be_reached_and_what_is_kept():
    now = timezone.now()
    row = status(
        state="unreachable",
        reason="Connection refused",
        failing_since=now - timedelta(seconds=20),
        last_contact=now - timedelta(seconds=21),
        matches=None,
    )
    ((css, line),) = follow_lines(row, "standby", now)
    assert css == "text-danger"
    assert line.startswith("cannot reach 192.0.2.10 since ")
    assert "(Connection refused); keeping revision 42, last contact 21 s ago" in line


def test_control_says_when_the_configuration_differs():
    lines = follow_lines(status(matches=False, peer_serial=44), "standby", timezone.now())
    assert lines[-1] == ("text-warning", "peer configuration differs (peer serial 44, here 42)")


def test_control_says_nobody_follows_when_the_worker_is_gone():
    row = status(updated_at=timezone.now() - timedelta(minutes=5))
    assert follow_lines(row, "standby", timezone.now()) == [
        ("text-danger", "Not following the peer: the worker is not running.")
    ]


def test_a_single_director_shows_no_sync_section(admin):
    assert Revision.objects.count() == 0
    assert "CONFIGURATION SYNC" not in admin.get(reverse("monitoring:control")).content.decode()


def bgp_mode(settings) -> None:
    """The worker's state file as it is written in BGP mode; the role file says single."""
    settings.LVSADMIN_REDUNDANCY_STATUS = settings.LVSADMIN_ROLE_FILE.with_name("status.json")
    settings.LVSADMIN_REDUNDANCY_STATUS.write_text(json.dumps({"bgp": {"enabled": True}}))
    be(settings, "single")


def test_in_bgp_mode_the_editing_director_says_so_on_every_page(settings, objects, admin):  # noqa: F811
    bgp_mode(settings)
    page = admin.get(reverse("virtualservers:virtual_list")).content.decode()
    assert "this director is where the configuration is edited" in page
    vs = VirtualServer.objects.get()
    response = admin.post(reverse("virtualservers:virtual_edit", args=[vs.pk]), form_data())
    assert response.status_code == 302  # it edits


def test_in_bgp_mode_a_director_set_to_follow_is_read_only_and_says_where_to_edit(
    settings,
    objects,  # noqa: F811
    admin,
):
    bgp_mode(settings)
    settings.LVSADMIN_FOLLOW_PEER = True
    settings.LVSADMIN_PEER_URL = "http://192.0.2.21:3636"
    page = admin.get(reverse("virtualservers:virtual_list")).content.decode()
    assert "this director follows the configuration of http://192.0.2.21:3636" in page
    assert "where the configuration is edited;" not in page
    vs = VirtualServer.objects.get()
    response = admin.post(reverse("virtualservers:virtual_edit", args=[vs.pk]), form_data())
    assert response.status_code == 403
    assert VirtualServer.objects.get().name == "mysql"


def test_follow_peer_changes_nothing_where_vrrp_gives_a_role(settings):
    settings.LVSADMIN_FOLLOW_PEER = True
    be(settings, "active")
    assert mirror.role().role == "active"
    be(settings, "single")
    assert mirror.role().role == "standby"
    settings.LVSADMIN_FOLLOW_PEER = False
    assert mirror.role().role == "single"
