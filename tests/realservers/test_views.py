"""REAL SERVER subtab: list, add, edit, delete, (de)activate."""

import pytest
from django.urls import reverse

from realservers.models import RealServer
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def virtual():
    return VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)


def real(virtual, name="web1", **fields):
    fields.setdefault("address", "10.0.0.1")
    return RealServer.objects.create(virtual_server=virtual, name=name, **fields)


def data(**changes):
    values = {"name": "web1", "address": "10.0.0.1", "port": "", "weight": "1"}
    values.update(changes)
    return values


def test_it_lists_the_real_servers_of_one_virtual(admin_client, virtual):
    real(virtual, "web1", active=True, port=8080, weight=5)
    real(virtual, "web2", address="10.0.0.2")
    other = VirtualServer.objects.create(name="other", address="192.0.2.200")
    real(other, "elsewhere", address="10.9.9.9")
    response = admin_client.get(reverse("realservers:real_list", args=[virtual.pk]))
    html = response.content.decode()
    assert "<title>lvsadmin (Virtual Servers - Editing real server)</title>" in html
    for column in ["STATUS", "NAME", "ADDRESS", "PORT", "WEIGHT"]:
        assert f"<th>{column}</th>" in html
    assert '<span class="config-active">active</span>' in html
    assert '<span class="config-inactive">inactive</span>' in html
    assert "8080" in html and "10.0.0.2" in html and "elsewhere" not in html
    for button in [">ADD</button>", ">EDIT</button>", ">DELETE</button>", ">(DE)ACTIVATE</button>"]:
        assert button in html
    assert f'aria-current="page" href="/virtual/{virtual.pk}/real/">REAL SERVER' in html


def test_it_shows_the_edit_form_with_piranhas_labels(admin_client, virtual):
    response = admin_client.get(reverse("realservers:real_add", args=[virtual.pk]))
    html = response.content.decode()
    assert (
        "<title>lvsadmin (Virtual servers - Editing virtual server - Editing real server)</title>"
        in html
    )
    for label in [
        "Name",
        "Address",
        "Port",
        "(Leave blank to default to Virtual Server's Application Port)",
        "Weight",
        ">ACCEPT</button>",
        ">CANCEL</button>",
    ]:
        assert label in html, label
    assert response.context["form"]["name"].value() == "server1"
    assert RealServer.objects.count() == 0


def test_it_adds_an_inactive_real_server(admin_client, virtual):
    response = admin_client.post(
        reverse("realservers:real_add", args=[virtual.pk]), data(name="web_one", weight="0")
    )
    assert response["Location"] == reverse("realservers:real_list", args=[virtual.pk])
    server = RealServer.objects.get()
    assert (server.name, server.port, server.weight, server.active) == ("web_one", None, 0, False)
    assert server.virtual_server == virtual


def test_it_edits_a_real_server(admin_client, virtual):
    server = real(virtual)
    url = reverse("realservers:real_edit", args=[virtual.pk, server.pk])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, data(address="10.0.0.9", port="8080", weight="65535"))
    server.refresh_from_db()
    assert (server.address, server.port, server.weight) == ("10.0.0.9", 8080, 65535)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"weight": "65536"}, "weight"),
        ({"weight": "-1"}, "weight"),
        ({"port": "http"}, "port"),  # lvs.cf takes only numbers for a real server's port
        ({"port": "0"}, "port"),
        ({"address": "10.0.0"}, "address"),
        ({"name": "a{b"}, "name"),
    ],
)
def test_it_shows_each_error_on_its_field_and_changes_nothing(
    admin_client, virtual, changes, field
):
    server = real(virtual)
    response = admin_client.post(
        reverse("realservers:real_edit", args=[virtual.pk, server.pk]), data(**changes)
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    server.refresh_from_db()
    assert (server.name, server.address, server.port, server.weight) == (
        "web1",
        "10.0.0.1",
        None,
        1,
    )


def test_it_refuses_two_real_servers_on_the_same_address_and_port(admin_client, virtual):
    real(virtual, "web1", address="10.0.0.1", port=80)
    response = admin_client.post(
        reverse("realservers:real_add", args=[virtual.pk]), data(name="dup")
    )
    assert response.context["form"].errors["address"] == [
        "This virtual server already has a real server at 10.0.0.1 port 80."
    ]
    assert RealServer.objects.count() == 1


def test_it_toggles_on_post_only(admin_client, virtual):
    server = real(virtual)
    url = reverse("realservers:real_toggle", args=[virtual.pk, server.pk])
    assert admin_client.get(url).status_code == 405
    server.refresh_from_db()
    assert server.active is False
    admin_client.post(url)
    server.refresh_from_db()
    assert server.active is True


def test_it_asks_before_deleting(admin_client, virtual):
    server = real(virtual)
    url = reverse("realservers:real_delete", args=[virtual.pk, server.pk])
    response = admin_client.get(url)
    assert "Delete real server <strong>web1</strong>" in response.content.decode()
    assert RealServer.objects.count() == 1
    assert admin_client.post(url)["Location"] == reverse("realservers:real_list", args=[virtual.pk])
    assert RealServer.objects.count() == 0


def test_it_does_not_reach_a_real_server_through_another_virtual(admin_client, virtual):
    other = VirtualServer.objects.create(name="other", address="192.0.2.200")
    server = real(other)
    assert (
        admin_client.get(reverse("realservers:real_edit", args=[virtual.pk, server.pk])).status_code
        == 404
    )
    assert (
        admin_client.post(
            reverse("realservers:real_delete", args=[virtual.pk, server.pk])
        ).status_code
        == 404
    )
    assert RealServer.objects.count() == 1


def test_it_requires_a_login(client, virtual):
    server = real(virtual)
    assert client.get(reverse("realservers:real_list", args=[virtual.pk])).status_code == 302
    client.post(reverse("realservers:real_toggle", args=[virtual.pk, server.pk]))
    client.post(reverse("realservers:real_delete", args=[virtual.pk, server.pk]))
    server.refresh_from_db()
    assert server.active is False


def test_it_keeps_one_spelling_of_an_ipv6_address_so_duplicates_are_caught(admin_client):
    v6 = VirtualServer.objects.create(name="v6", address="2001:db8::80", port=80)
    url = reverse("realservers:real_add", args=[v6.pk])
    response = admin_client.post(url, data(address="2001:0DB8:0:0::0001"))
    assert response.status_code == 302
    assert RealServer.objects.get().address == "2001:db8::1"
    again = admin_client.post(url, data(name="same", address="2001:db8::1"))
    assert again.context["form"].errors["address"] == [
        "This virtual server already has a real server at 2001:db8::1 port 80."
    ]
    assert RealServer.objects.count() == 1


def test_it_refuses_a_real_server_of_the_other_address_family(admin_client):
    v6 = VirtualServer.objects.create(name="v6", address="2001:db8::80", port=80)
    response = admin_client.post(
        reverse("realservers:real_add", args=[v6.pk]), data(address="192.0.2.7")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["address"] == [
        "192.0.2.7 is an IPv4 address but the virtual server's address 2001:db8::80 is IPv6: "
        "IPVS cannot forward between the two."
    ]
    assert not RealServer.objects.exists()


def test_a_real_server_address_kept_as_a_host_name_shows_the_warning(admin_client):
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100")
    real = RealServer.objects.create(virtual_server=virtual, name="web1", address="web1.example")
    html = admin_client.get(reverse("realservers:real_edit", args=[virtual.pk, real.pk]))
    hint = html.content.decode().split('id="id_address"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "web1.example is a host name" in hint


def test_a_name_with_blanks_is_refused_on_its_field_with_the_one_word_form(admin_client, virtual):
    url = reverse("realservers:real_add", args=[virtual.pk])
    response = admin_client.post(url, data(name="my sql"))
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "A name is one word in lvs.cf, without blanks: type my_sql, for example."
    ]
    assert not RealServer.objects.exists()


def test_a_real_server_at_the_vip_is_saved_with_a_warning(admin_client, virtual):
    url = reverse("realservers:real_add", args=[virtual.pk])
    response = admin_client.post(url, data(address="192.0.2.100"), follow=True)
    assert RealServer.objects.get().address == "192.0.2.100"
    html = response.content.decode()
    assert 'class="alert alert-warning"' in html
    assert "The VIP 192.0.2.100 is also the address of real server web1" in html
