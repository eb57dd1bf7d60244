"""The API validates with the GUI's forms: the same message on the same field, nothing saved."""

import pytest
from django.test import Client
from django.urls import reverse

from realservers.forms import RealServerForm
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db


def form_error(real, **changes) -> dict:
    data = {"name": real.name, "address": real.address, "port": "", "weight": real.weight}
    form = RealServerForm({**data, **changes}, instance=real)
    assert not form.is_valid()
    return {name: list(messages) for name, messages in form.errors.items()}


def test_a_weight_out_of_range_gets_the_forms_message_on_the_weight_field(draft):  # noqa: F811
    real = draft["db1"]
    response = api_client(member("administrator")).patch(real_url(real), {"weight": 70000})
    assert response.status_code == 400
    assert response.json() == form_error(real, weight=70000)
    assert response.json() == {"weight": ["Ensure this value is less than or equal to 65535."]}
    real.refresh_from_db()
    assert real.weight == 1


def test_the_gui_page_shows_the_same_message_for_the_same_weight(draft):  # noqa: F811
    real = draft["db1"]
    gui = Client()
    gui.force_login(member("administrator"))
    url = reverse("realservers:real_edit", args=[real.virtual_server_id, real.pk])
    page = gui.post(url, {"name": "db1", "address": real.address, "port": "", "weight": "70000"})
    api = api_client(member("administrator", "robot")).patch(real_url(real), {"weight": 70000})
    assert page.status_code == 200
    assert page.context["form"].errors["weight"] == api.json()["weight"]


def test_a_model_check_names_its_field_too(draft):  # noqa: F811
    # clean() of the model: two real servers of one virtual server at the same address and port.
    db1, db2 = draft["db1"], draft["db2"]
    response = api_client(member("administrator")).patch(real_url(db1), {"address": db2.address})
    assert response.status_code == 400
    assert response.json() == form_error(db1, address=db2.address)
    assert "already has a real server at 192.0.2.242" in response.json()["address"][0]


def test_a_weight_that_is_not_a_number_gets_the_forms_message(draft):  # noqa: F811
    real = draft["db1"]
    response = api_client(member("administrator")).patch(real_url(real), {"weight": "heavy"})
    assert response.json() == form_error(real, weight="heavy")


def test_a_field_the_form_does_not_edit_is_refused_by_name(draft):  # noqa: F811
    real = draft["db1"]
    client = api_client(member("administrator"))
    response = client.patch(real_url(real), {"active": True, "wieght": 3})
    assert response.status_code == 400
    assert set(response.json()) == {"active", "wieght"}
    assert "name, address, port, weight" in response.json()["active"][0]
    real.refresh_from_db()
    assert (real.active, real.weight) == (False, 1)


def test_a_patch_keeps_the_fields_it_does_not_name(draft):  # noqa: F811
    real = draft["db2"]
    real.port = 3307
    real.save()
    response = api_client(member("administrator")).patch(real_url(real), {"weight": 0})
    assert response.status_code == 200
    real.refresh_from_db()
    assert (real.name, real.address, real.port, real.weight) == ("db2", "192.0.2.242", 3307, 0)


def test_a_body_that_is_not_an_object_is_refused(draft):  # noqa: F811
    response = api_client(member("administrator")).patch(real_url(draft["db1"]), [1, 2])
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Expected a JSON object."]}


def test_a_comment_too_long_for_apply_gets_the_forms_message(draft):  # noqa: F811
    response = api_client(member("operator")).post("/api/publish/", {"comment": "x" * 256})
    assert response.status_code == 400
    assert response.json() == {
        "comment": ["Ensure this value has at most 255 characters (it has 256)."]
    }
