"""Roles: viewer reads, operator (de)activates and applies, administrator edits and manages users.
Before the roles any logged-in account could change and publish everything."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import get_resolver, reverse

from monitoring.models import Revision
from realservers.models import RealServer
from tests.lvsadmin.test_every_url_needs_login import all_urls, objects  # noqa: F401 (fixture)
from tests.virtualservers.test_views_virtual import form_data
from virtualservers.models import GlobalSettings, Redundancy, VirtualServer

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase 7"
# Open to every logged-in user whatever the role: their own session, password, language and API
# token.
ACCOUNT_VIEWS = {
    "logout",
    "password_change",
    "admin_password_change",
    "password_change_done",
    "language",
    "api_token",
}


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"


def member(role: str | None, name: str | None = None, **flags) -> User:
    user = User.objects.create_user(name or role or "plain", password=PASSWORD, **flags)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def draft_state():
    vs = VirtualServer.objects.get()
    return (
        vs.active,
        vs.name,
        RealServer.objects.get().active,
        Redundancy.load().backup_active,
        GlobalSettings.load().primary,
        Revision.objects.count(),
        VirtualServer.objects.count(),
        RealServer.objects.count(),
    )


def test_the_migration_makes_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "viewer",
        "operator",
        "administrator",
    }


def test_every_view_that_changes_state_names_the_permission_it_needs():
    # A view added without @requires fails here, not in production.
    def callbacks(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if hasattr(entry, "url_patterns"):
                if not str(entry.pattern).startswith("admin/"):
                    yield from callbacks(entry)
            else:
                yield entry.name, entry.callback

    unguarded = []
    for name, view in callbacks(get_resolver()):
        if name in ACCOUNT_VIEWS or name in ("login", None):  # None: static files
            continue
        allowed = getattr(view, "required_permission", None)
        if allowed is None and not _read_only(view):
            unguarded.append(name)
    assert unguarded == []


def _read_only(view) -> bool:
    # require_safe/require_GET views answer 405 to a POST: nothing to guard.
    from django.test import RequestFactory

    request = RequestFactory().post("/")
    request.user = None
    try:
        return view(request).status_code == 405
    except TypeError:
        return False


@pytest.mark.parametrize("role", [None, "viewer"])
def test_a_viewer_or_plain_account_gets_403_on_every_state_changing_post(objects, role):  # noqa: F811
    client = client_for(member(role))
    before = draft_state()
    refused = 0
    for name, url in all_urls(objects):
        if name in ACCOUNT_VIEWS:
            continue
        response = client.post(url, {"network": "direct", "comment": "x", "kind": "1"})
        assert response.status_code in (403, 405), (name, url, response.status_code)
        refused += response.status_code == 403
    assert refused >= 14
    assert draft_state() == before


def test_a_viewer_still_reads_every_page(objects):  # noqa: F811
    client = client_for(member("viewer"))
    for name, url in all_urls(objects):
        # peer_revision is no page: only the other director's signature opens it (a login does
        # not; tests/monitoring/peersync/test_peersync_views.py).
        if name in ACCOUNT_VIEWS | {"live_table_text", "peer_revision"}:
            continue
        # 405: a button's URL (toggle, apply...) has no page of its own.
        assert client.get(url).status_code in (200, 405), (name, url)


def test_an_operator_toggles_and_applies_but_does_not_edit(objects):  # noqa: F811
    client = client_for(member("operator"))
    vs = VirtualServer.objects.get()
    url = reverse("virtualservers:virtual_toggle", args=[vs.pk])
    assert client.post(url).status_code == 302
    assert VirtualServer.objects.get().active is True
    was = RealServer.objects.get().active
    real = reverse("realservers:real_toggle", args=[vs.pk, objects["rpk"]])
    assert client.post(real).status_code == 302
    assert RealServer.objects.get().active is not was
    assert client.post(reverse("monitoring:apply"), {"comment": "go"}).status_code == 302
    assert Revision.objects.filter(comment="go").exists()
    edit = reverse("virtualservers:virtual_edit", args=[vs.pk])
    assert client.post(edit, form_data(name="renamed")).status_code == 403
    assert client.post(reverse("virtualservers:redundancy_enable")).status_code == 403
    assert VirtualServer.objects.get().name == "mysql"


def test_an_administrator_edits(objects):  # noqa: F811
    client = client_for(member("administrator"))
    vs = VirtualServer.objects.get()
    edit = reverse("virtualservers:virtual_edit", args=[vs.pk])
    response = client.post(edit, form_data(name="renamed"))
    assert response.status_code == 302
    assert VirtualServer.objects.get().name == "renamed"


def test_pages_hide_the_buttons_a_viewer_may_not_press(objects):  # noqa: F811
    viewer, admin = client_for(member("viewer")), client_for(member("administrator"))
    pages = [
        reverse("virtualservers:virtual_list"),
        reverse("realservers:real_list", args=[objects["pk"]]),
        reverse("virtualservers:virtual_edit", args=[objects["pk"]]),
        reverse("virtualservers:global_settings"),
        reverse("monitoring:control"),
    ]
    for page in pages:
        shown = admin.get(page).content.decode()
        hidden = viewer.get(page).content.decode()
        for button in (">ACCEPT<", ">ADD<", ">DELETE<", ">(DE)ACTIVATE<", ">Apply<"):
            assert button not in hidden, (page, button)
        assert any(b in shown for b in (">ACCEPT<", ">ADD<", ">Apply<")), page


def test_an_operator_sees_activate_and_apply_but_not_edit_buttons(objects):  # noqa: F811
    client = client_for(member("operator"))
    html = client.get(reverse("virtualservers:virtual_list")).content.decode()
    assert ">(DE)ACTIVATE<" in html and ">ADD<" not in html and ">DELETE<" not in html
    assert ">Apply<" in client.get(reverse("monitoring:control")).content.decode()


# --- The admin ----------------------------------------------------------------------------------


def test_in_the_admin_a_viewer_reads_but_cannot_change_or_activate(objects):  # noqa: F811
    client = client_for(member("viewer", is_staff=True))
    vs = VirtualServer.objects.get()
    change = reverse("admin:virtualservers_virtualserver_change", args=[vs.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"name": "renamed"}).status_code == 403
    changelist = reverse("admin:virtualservers_virtualserver_changelist")
    client.post(changelist, {"action": "activate", "_selected_action": [vs.pk]})
    assert VirtualServer.objects.get().active is False
    gs = reverse("admin:virtualservers_globalsettings_change", args=[GlobalSettings.load().pk])
    assert client.post(gs, {"primary": "192.0.2.9"}).status_code == 403


def test_in_the_admin_an_operator_activates_with_the_action(objects):  # noqa: F811
    client = client_for(member("operator", is_staff=True))
    vs = VirtualServer.objects.get()
    changelist = reverse("admin:virtualservers_virtualserver_changelist")
    client.post(changelist, {"action": "activate", "_selected_action": [vs.pk]})
    assert VirtualServer.objects.get().active is True
    change = reverse("admin:virtualservers_virtualserver_change", args=[vs.pk])
    assert client.post(change, {"name": "renamed"}).status_code == 403


def test_nobody_deletes_the_audit_trail_in_the_admin():
    client = client_for(member("administrator", is_staff=True))
    assert client.get(reverse("admin:monitoring_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:monitoring_auditentry_add")).status_code == 403


# --- Passwords ----------------------------------------------------------------------------------


def test_a_superuser_cannot_set_their_own_password_in_the_admin_without_the_old_one():
    boss = member(None, "boss", is_staff=True, is_superuser=True)
    client = client_for(boss)
    url = reverse("admin:auth_user_password_change", args=[boss.pk])
    response = client.post(
        url, {"password1": "new passphrase 123", "password2": "new passphrase 123"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change")
    boss.refresh_from_db()
    assert boss.check_password(PASSWORD)


def test_the_gui_password_page_asks_for_the_old_password():
    user = member("viewer")
    client = client_for(user)
    url = reverse("password_change")
    new = "another long passphrase 9"
    wrong = {"old_password": "wrong", "new_password1": new, "new_password2": new}
    response = client.post(url, wrong)
    assert response.status_code == 200 and "old_password" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    right = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    assert client.post(url, right).status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert client.get(reverse("monitoring:control")).status_code == 200  # still logged in


def test_resetting_another_users_password_ends_their_sessions():
    boss = client_for(member("administrator", "boss", is_staff=True))
    victim = member("operator", "alice")
    theirs = Client()
    # force_login: the test client's login() has no request, which the lockout backend needs.
    theirs.force_login(victim)
    assert theirs.get(reverse("monitoring:control")).status_code == 200
    url = reverse("admin:auth_user_password_change", args=[victim.pk])
    new = "reset passphrase 4242"
    response = boss.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302
    victim.refresh_from_db()
    assert victim.check_password(new)
    response = theirs.get(reverse("monitoring:control"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
