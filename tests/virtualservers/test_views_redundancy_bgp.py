"""REDUNDANCY's third mode on the page: choose active-active (BGP), give the router's settings,
leave it again; the password is asked as a file path only."""

import pytest
from django.urls import reverse

from monitoring.publish.draft import draft_config
from virtualservers.lvsconf.render import render
from virtualservers.models import Redundancy

pytestmark = pytest.mark.django_db
URL = reverse("virtualservers:redundancy")
SETTINGS = {
    "bgp_local_as": "64512",
    "bgp_router": "192.0.2.254",
    "bgp_router_as": "64513",
    "bgp_bfd": "on",
    "bgp_password_file": "/etc/lvsadmin/bgp-password",
}


def test_the_page_offers_active_active_beside_enable(admin_client):
    html = admin_client.get(URL).content.decode()
    assert "Mode: single director" in html
    assert ">ACTIVE-ACTIVE (BGP)</button>" in html and ">ENABLE</button>" in html


def test_it_chooses_active_active_and_asks_for_the_routers_settings(admin_client):
    response = admin_client.post(reverse("virtualservers:redundancy_bgp_enable"))
    assert response.status_code == 302 and Redundancy.load().bgp is True
    html = admin_client.get(URL).content.decode()
    for label in ["active-active (BGP)", "Local AS", "Router address", "Router AS",
                  "BFD interval (ms)", "Hold time (seconds)", "MD5 password file",
                  "MED per director", ">LEAVE ACTIVE-ACTIVE</button>"]:  # fmt: skip
        assert label in html, label
    assert "Redundant server public IP" not in html


def test_it_accepts_the_bgp_settings_into_lvs_cf(admin_client):
    Redundancy.objects.create(pk=1, bgp=True)
    response = admin_client.post(URL, SETTINGS)
    assert response.status_code == 302
    text = render(draft_config())
    assert "bgp = 1\nbgp_local_as = 64512\nbgp_router = 192.0.2.254\n" in text
    assert "bgp_password_file = /etc/lvsadmin/bgp-password\n" in text


def test_it_shows_errors_on_the_fields_and_changes_nothing(admin_client):
    Redundancy.objects.create(pk=1, bgp=True)
    response = admin_client.post(URL, {**SETTINGS, "bgp_local_as": "0", "bgp_hold_time": "2"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"bgp_local_as", "bgp_hold_time"}
    assert Redundancy.load().bgp_local_as is None


def test_leaving_active_active_takes_every_bgp_key_out_of_lvs_cf(admin_client):
    Redundancy.objects.create(pk=1, bgp=True, bgp_local_as=64512, bgp_router="192.0.2.254",
                              bgp_router_as=64513)  # fmt: skip
    assert "bgp" in render(draft_config())
    admin_client.post(reverse("virtualservers:redundancy_bgp_disable"))
    row = Redundancy.load()
    assert (row.bgp, row.bgp_local_as, row.bgp_router) == (None, None, "")
    assert "bgp" not in render(draft_config())
