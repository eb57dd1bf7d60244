"""What pulse would misbehave on is refused, on its field, in the GUI and the API alike: two real
servers of one virtual server with one name, an address that is no host's (0.0.0.0, the
broadcast address), and a weight of null through the API."""

import pytest
from django.urls import reverse

from realservers.models import RealServer
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db


def gui_add(client, virtual: VirtualServer, **changes):
    values = {"name": "web9", "address": "192.0.2.9", "port": "", "weight": "1", **changes}
    return client.post(reverse("realservers:real_add", args=[virtual.pk]), values)


def test_the_gui_refuses_a_second_real_server_of_the_same_name(admin_client, draft):  # noqa: F811
    response = gui_add(admin_client, draft["virtual"], name="db1")
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "This virtual server already has a real server named db1."
    ]
    assert RealServer.objects.filter(name="db1").count() == 1


def test_the_same_name_under_another_virtual_server_is_fine(admin_client, draft):  # noqa: F811
    other = VirtualServer.objects.create(name="web", address="192.0.2.80", port=80)
    response = gui_add(admin_client, other, name="db1")
    assert response.status_code == 302
    assert RealServer.objects.filter(name="db1").count() == 2


def test_the_api_refuses_renaming_a_real_server_to_its_siblings_name(draft):  # noqa: F811
    response = api_client(member("administrator")).patch(real_url(draft["db1"]), {"name": "db2"})
    assert response.status_code == 400
    assert response.json() == {"name": ["This virtual server already has a real server named db2."]}
    assert RealServer.objects.filter(name="db2").count() == 1


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("0.0.0.0", "0.0.0.0 is no host's address"),
        ("::", ":: is no host's address"),
        ("255.255.255.255", "255.255.255.255 is the broadcast address"),
    ],
)
def test_an_address_no_real_server_can_have_is_refused_on_its_field(
    admin_client,
    draft,  # noqa: F811
    address,
    why,
):
    response = gui_add(admin_client, draft["virtual"], address=address)
    assert response.status_code == 200
    (message,) = response.context["form"].errors["address"]
    assert message.startswith(why)
    api = api_client(member("administrator")).patch(real_url(draft["db1"]), {"address": address})
    assert api.status_code == 400
    assert api.json()["address"][0].startswith(why)
    draft["db1"].refresh_from_db()
    assert draft["db1"].address == "192.0.2.241"


def test_the_api_refuses_a_null_weight_and_keeps_the_weight(draft):  # noqa: F811
    real = draft["db1"]
    response = api_client(member("administrator")).patch(real_url(real), {"weight": None})
    assert response.status_code == 400
    assert response.json() == {"weight": ["This field may not be null."]}
    real.refresh_from_db()
    assert real.weight == 1


@pytest.mark.parametrize("field", ["name", "address"])
def test_the_api_refuses_a_null_name_or_address_the_same_way(draft, field):  # noqa: F811
    response = api_client(member("administrator")).patch(real_url(draft["db1"]), {field: None})
    assert response.status_code == 400
    assert response.json() == {field: ["This field may not be null."]}


def test_a_null_port_still_means_the_virtual_servers_port(draft):  # noqa: F811
    real = draft["db2"]
    real.port = 3307
    real.save()
    response = api_client(member("administrator")).patch(real_url(real), {"port": None})
    assert response.status_code == 200
    real.refresh_from_db()
    assert real.port is None
