"""A viewer in a real browser: every page readable, no button that changes anything, and a POST
forged with a valid CSRF token refused all the same (the server checks the role, not the page)."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User

from monitoring.models import AuditEntry
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "viewer-Browser-pass-1"
FORBIDDEN_BUTTONS = (
    "ACCEPT",
    "ADD",
    "DELETE",
    "(DE)ACTIVATE",
    "Apply",
    "ENABLE",
    "RESTORE",
    "Drain",
    "Maintenance",
    "Return",
)


@pytest.fixture
def viewer():
    # The roles are rows of a data migration: a transactional test before this one flushed them.
    make_groups = import_module("monitoring.migrations.0008_roles_groups").make_groups
    make_groups(django_apps, None)
    user = User.objects.create_user("watcher", password=PASSWORD)
    user.groups.add(Group.objects.get(name="viewer"))
    return user


@pytest.fixture
def virtual():
    vs = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(virtual_server=vs)
    RealServer.objects.create(virtual_server=vs, name="db1", address="192.0.2.241")
    return vs


def test_a_viewer_sees_no_buttons_and_a_forged_post_gets_403(live_server, page, viewer, virtual):
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("watcher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="CONTROL/MONITORING").wait_for()
    pages = [
        "/",
        "/global/",
        "/redundancy/",
        "/virtual/",
        f"/virtual/{virtual.pk}/",
        f"/virtual/{virtual.pk}/real/",
        f"/virtual/{virtual.pk}/monitoring/",
        "/audit/",
    ]
    for path in pages:
        page.goto(live_server.url + path)
        for name in FORBIDDEN_BUTTONS:
            assert page.get_by_role("button", name=name, exact=True).count() == 0, (path, name)
    page.goto(live_server.url + "/virtual/")
    assert page.get_by_role("button", name="VIEW").count() == 1

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")

    def forged_toggle():
        return page.request.post(
            f"{live_server.url}/virtual/{virtual.pk}/toggle/",
            form={"csrfmiddlewaretoken": token},
            headers={"X-CSRFToken": token, "Referer": live_server.url + "/virtual/"},
        )

    response = forged_toggle()
    assert response.status == 403
    assert VirtualServer.objects.get().active is False
    assert not AuditEntry.objects.filter(action__in=["activate", "deactivate"]).exists()

    # The same request with the operator's role goes through: the 403 was the role, not the
    # token.
    viewer.groups.add(Group.objects.get(name="operator"))
    assert forged_toggle().ok
    assert VirtualServer.objects.get().active is True
