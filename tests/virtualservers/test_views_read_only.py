"""A viewer (read-only role) on the edit pages: every field disabled, CANCEL a plain link."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from realservers.models import RealServer
from virtualservers.models import MonitoringScript, Redundancy, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client() -> Client:
    user = User.objects.create_user("vera", password="x")
    user.groups.add(Group.objects.get(name="viewer"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def virtual() -> VirtualServer:
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)
    MonitoringScript.objects.create(virtual_server=virtual)
    RealServer.objects.create(virtual_server=virtual, name="web1", address="192.0.2.101")
    return virtual


def edit_pages(virtual: VirtualServer) -> list[str]:
    real = virtual.real_servers.get()
    return [
        reverse("virtualservers:global_settings"),
        reverse("virtualservers:redundancy"),
        reverse("virtualservers:virtual_edit", args=[virtual.pk]),
        reverse("virtualservers:monitoring_script", args=[virtual.pk]),
        reverse("realservers:real_edit", args=[virtual.pk, real.pk]),
    ]


def test_a_viewer_sees_every_field_disabled(viewer_client, virtual):
    Redundancy.objects.create(pk=1, backup_active=True, backup="192.0.2.11")
    for url in edit_pages(virtual):
        response = viewer_client.get(url)
        assert response.status_code == 200, url
        form = response.context["form"]
        editable = [name for name, field in form.fields.items() if not field.disabled]
        assert editable == [], url
        # What the browser gets: no control it could type into or tick (the hidden ones are
        # the CSRF token and the buttons' own values).
        html = response.content.decode()
        controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
        open_ = [c for c in controls if "disabled" not in c and 'type="hidden"' not in c]
        assert open_ == [], url


def test_an_administrator_sees_the_fields_enabled(admin_client, virtual):
    response = admin_client.get(reverse("virtualservers:virtual_edit", args=[virtual.pk]))
    assert not any(field.disabled for field in response.context["form"].fields.values())


def test_a_viewers_cancel_is_a_link_that_works(viewer_client, virtual):
    html = viewer_client.get(reverse("virtualservers:virtual_edit", args=[virtual.pk])).content
    back = reverse("virtualservers:virtual_list")
    assert f'href="{back}">CANCEL</a>'.encode() in html
    assert b'name="cancel"' not in html
    assert viewer_client.get(back).status_code == 200
