"""GLOBAL SETTINGS page."""

import pytest
from django.urls import reverse

from virtualservers.models import GlobalSettings

pytestmark = pytest.mark.django_db
URL = reverse("virtualservers:global_settings")


def post(client, **fields):
    data = {
        "primary": "192.0.2.10",
        "primary_private": "",
        "tcp_timeout": "",
        "tcpfin_timeout": "",
        "udp_timeout": "",
        "rsh_command": "",
        "hard_shutdown": "unknown",
        "active_cmd": "",
        "inactive_cmd": "",
        "debug_level": "NONE",
    }
    data.update(fields)
    return client.post(URL, data)


def test_it_shows_piranhas_labels_and_the_current_network_type(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>lvsadmin (Global Settings)</title>" in html
    for label in [
        "Primary server public IP",
        "Primary server private IP: (May be blank)",
        "TCP timeout (seconds)",
        "TCP FIN timeout (seconds)",
        "UDP timeout (seconds)",
        "Use network type: (Current type is: <strong>Direct Routing</strong>)",
        ">NAT</button>",
        ">Direct Routing</button>",
        ">Tunneling</button>",
        "ACCEPT",
        "<summary>Advanced</summary>",
    ]:
        assert label in html, label
    # The NAT router fields only appear for NAT.
    assert "NAT Router IP" not in html


def test_it_highlights_the_global_settings_tab(admin_client):
    html = admin_client.get(URL).content.decode()
    assert 'nav-link active" aria-current="page" href="/global/">GLOBAL SETTINGS' in html


def test_it_saves_the_fields_on_accept(admin_client):
    response = post(admin_client, primary="192.0.2.10", tcp_timeout="900", udp_timeout="60")
    assert response.status_code == 302
    row = GlobalSettings.load()
    assert (row.primary, row.tcp_timeout, row.udp_timeout) == ("192.0.2.10", 900, 60)
    assert row.network == "direct"
    assert "Global settings accepted" in admin_client.get(URL).content.decode()


def test_it_switches_to_nat_and_then_shows_the_nat_router_fields(admin_client):
    post(admin_client, network="nat")
    assert GlobalSettings.load().network == "nat"
    html = admin_client.get(URL).content.decode()
    assert "Current type is: <strong>NAT</strong>" in html
    for label in ["NAT Router IP", "NAT Router netmask", "NAT Router device", "255.255.254.0"]:
        assert label in html
    post(
        admin_client,
        nat_router_ip="10.0.0.254",
        nat_nmask="255.255.255.0",
        nat_router_device="eth1:1",
    )
    row = GlobalSettings.load()
    assert (row.nat_router_ip, row.nat_nmask, row.nat_router_device) == (
        "10.0.0.254",
        "255.255.255.0",
        "eth1:1",
    )


def test_it_clears_the_nat_router_but_keeps_the_netmask_when_leaving_nat(admin_client):
    GlobalSettings.objects.create(
        pk=1,
        network="nat",
        nat_router_ip="10.0.0.254",
        nat_router_device="eth1:1",
        nat_nmask="255.255.255.0",
    )
    post(
        admin_client,
        network="tunnel",
        nat_router_ip="10.0.0.254",
        nat_nmask="255.255.255.0",
        nat_router_device="eth1:1",
    )
    row = GlobalSettings.load()
    assert row.network == "tunnel"
    assert (row.nat_router_ip, row.nat_router_device, row.nat_nmask) == ("", "", "255.255.255.0")


def test_it_shows_an_invalid_address_on_its_field_and_changes_nothing(admin_client):
    GlobalSettings.objects.create(pk=1, primary="192.0.2.10")
    response = post(admin_client, primary="not-an-ip", network="nat")
    assert response.status_code == 200
    assert response.context["form"].errors == {"primary": ["“not-an-ip” is not an IPv4 address."]}
    assert "is not an IPv4 address" in response.content.decode()
    row = GlobalSettings.load()
    assert (row.primary, row.network) == ("192.0.2.10", "direct")


def test_it_wants_the_nat_router_ip_and_device_together(admin_client):
    GlobalSettings.objects.create(pk=1, network="nat")
    response = post(admin_client, nat_router_ip="10.0.0.254", nat_router_device="")
    assert "nat_router_device" in response.context["form"].errors
    assert GlobalSettings.load().nat_router_ip == ""


def test_it_saves_the_advanced_globals(admin_client):
    post(
        admin_client,
        rsh_command="ssh",
        hard_shutdown="false",
        active_cmd="/usr/local/bin/up eth0",
        debug_level="NONE",
    )
    row = GlobalSettings.load()
    assert (row.rsh_command, row.hard_shutdown, row.active_cmd) == (
        "ssh",
        False,
        "/usr/local/bin/up eth0",
    )


def test_it_refuses_a_line_break_in_a_command(admin_client):
    response = post(admin_client, inactive_cmd="/bin/true\nbackup_active = 0")
    assert "inactive_cmd" in response.context["form"].errors
    assert GlobalSettings.load().inactive_cmd == ""


def test_it_requires_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    response = client.post(URL, {"primary": "192.0.2.99"})
    assert response.status_code == 302
    assert not GlobalSettings.objects.filter(primary="192.0.2.99").exists()


def test_the_heartbeat_address_is_ipv4_as_pulse_needs(admin_client):
    GlobalSettings.objects.create(pk=1, primary="192.0.2.10")
    response = post(admin_client, primary="2001:db8::10", network="direct")
    assert response.context["form"].errors == {
        "primary": ["“2001:db8::10” is not an IPv4 address."]
    }
    assert GlobalSettings.load().primary == "192.0.2.10"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("active_cmd", '"/usr/local/bin/up eth0'),
        ("inactive_cmd", '"/bin/down'),
        ("active_cmd", 'say"hello'),
        ("debug_level", '"NONE'),
    ],
)
def test_it_refuses_on_the_field_a_command_apply_could_not_write(admin_client, field, value):
    # Accepted by the form, refused by Apply, the draft would be stuck until someone found it.
    response = post(admin_client, **{field: value})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert getattr(GlobalSettings.load(), field) != value


def test_it_still_takes_a_command_quoted_as_a_whole(admin_client):
    post(admin_client, active_cmd='"/usr/local/bin/up eth0"')
    assert GlobalSettings.load().active_cmd == '"/usr/local/bin/up eth0"'


@pytest.mark.parametrize("field", ["hard_shutdown", "active_cmd", "inactive_cmd"])
def test_a_field_nothing_acts_on_says_so_beside_it(admin_client, field):
    html = admin_client.get(URL).content.decode()
    hint = html.split(f'id="id_{field}"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "Nothing in lvsadmin acts on this" in hint
