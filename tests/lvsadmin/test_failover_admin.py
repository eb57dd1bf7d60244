"""Failover blocks edited in the admin: an item that would break lvs.cf is refused on the field,
and one put straight into the database is refused by Apply, which names the block."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import Revision
from virtualservers.models import FailoverService, GlobalSettings

pytestmark = pytest.mark.django_db

# An item value that closes the block and opens an active virtual server of its own.
INJECTION = "192.0.2.9 eth0:1\n}\nvirtual evil {\n     address = 192.0.2.66 eth0:1\n     active = 1"
ADD = "/admin/virtualservers/failoverservice/add/"


@pytest.fixture
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "ha" / "lvs.cf"
    return settings.LVSADMIN_LVS_CF


def add(client: Client, items: list) -> object:
    return client.post(ADD, {"name": "web1", "position": 0, "items": json.dumps(items)})


def test_the_admin_refuses_an_item_that_injects_a_block(admin_client_):
    response = add(admin_client_, [["address", INJECTION]])
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["items"]
    assert errors == ["item 1: address: a line break or NUL cannot be written"]
    assert not FailoverService.objects.exists()


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ([["address", "x } virtual evil {"]], "item 1: address: a brace would open or close"),
        ([["ok", "1"], ["Bad Key", "1"]], "item 2: key 'Bad Key' must be one lower-case word"),
        ([["address"]], "item 1: a [key, value] pair of two strings"),
        ({"address": "x"}, "A list of [key, value] pairs."),
    ],
)
def test_the_admin_names_each_bad_item(admin_client_, items, error):
    response = add(admin_client_, items)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["items"][0].startswith(error)
    assert not FailoverService.objects.exists()


def test_the_admin_saves_items_as_an_import_reads_them(admin_client_):
    items = [["address", "192.0.2.9 eth0:1"], ["send", '"GET / HTTP/1.0"']]
    assert add(admin_client_, items).status_code == 302
    assert FailoverService.objects.get().items == items


def test_apply_refuses_an_injected_item_naming_the_failover_block(admin_client_, lvs_cf):
    GlobalSettings.load()
    FailoverService.objects.create(name="web1", items=[["address", INJECTION]])
    response = admin_client_.post(reverse("monitoring:apply"), {"comment": ""}, follow=True)
    shown = [str(message) for message in response.context["messages"]]
    assert len(shown) == 1
    assert "failover web1: address: a line break" in shown[0]
    assert "Nothing was written" in shown[0]
    assert not lvs_cf.exists()
    assert not Revision.objects.exists()
