"""A MySQL check's password is never shown back in /admin/: to no role, on no page. Staff viewers
and operators used to read it in clear on the monitoring script's page, where the admin shows a
field they may not change as its value."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from monitoring.models import AuditEntry, Revision
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db
SECRET = "s3cret-pw-7f2c"


@pytest.fixture
def script() -> MonitoringScript:
    vs = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    RealServer.objects.create(virtual_server=vs, name="db1", address="192.0.2.241")
    return MonitoringScript.objects.create(
        virtual_server=vs, kind="mysql", mysql_user="monitor", mysql_password=SECRET
    )


def staff(role: str | None, superuser: bool = False) -> Client:
    user = User.objects.create_user(
        f"{role}-staff", password="a long passphrase 77", is_staff=True, is_superuser=superuser
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def admin_pages(script: MonitoringScript) -> list[str]:
    vs = script.virtual_server
    real = vs.real_servers.get()
    # A published revision carries the checks' settings beside lvs.cf, the password among them.
    revision = Revision.objects.create(
        serial_no=1, text="serial_no = 1\n", checks={"mysql": {"mysql_password": SECRET}}
    )
    return [
        f"/admin/monitoring/revision/{revision.pk}/change/",
        "/admin/virtualservers/monitoringscript/",
        f"/admin/virtualservers/monitoringscript/{script.pk}/change/",
        f"/admin/virtualservers/monitoringscript/{script.pk}/history/",
        f"/admin/virtualservers/monitoringscript/{script.pk}/delete/",
        "/admin/virtualservers/virtualserver/",
        f"/admin/virtualservers/virtualserver/{vs.pk}/change/",
        f"/admin/virtualservers/virtualserver/{vs.pk}/delete/",
        f"/admin/realservers/realserver/{real.pk}/change/",
        "/admin/monitoring/auditentry/",
    ]


@pytest.mark.parametrize(
    ("role", "superuser"),
    [("viewer", False), ("operator", False), ("administrator", False), (None, True)],
)
def test_no_role_reads_a_mysql_password_on_any_admin_page(script, role, superuser):
    client = staff(role, superuser)
    shown = 0
    for url in admin_pages(script):
        page = client.get(url)
        assert SECRET.encode() not in page.content, url
        shown += page.status_code == 200
    assert shown >= 5  # the pages were really shown, not refused


def test_a_viewer_sees_that_a_password_is_set_but_not_which(script):
    page = staff("viewer").get(f"/admin/virtualservers/monitoringscript/{script.pk}/change/")
    assert page.status_code == 200
    assert SECRET.encode() not in page.content
    assert b"MySQL password" in page.content and b"(set; never shown)" in page.content


def test_an_administrator_changing_the_script_keeps_the_password_unseen(script):
    client = staff("administrator")
    url = f"/admin/virtualservers/monitoringscript/{script.pk}/change/"
    assert SECRET.encode() not in client.get(url).content
    script.refresh_from_db()
    assert script.mysql_password == SECRET
    assert not AuditEntry.objects.filter(summary__contains=SECRET).exists()
