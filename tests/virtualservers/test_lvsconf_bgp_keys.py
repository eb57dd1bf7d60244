"""REDUNDANCY's third mode, active-active (BGP): lvsadmin's own global keys read and written back
unchanged, bad values refused naming the line, absent unless set (a Piranha file stays
byte-identical), through the draft and back, and the BGP form's validation."""

import pytest

from monitoring.publish.draft import draft_config, replace_draft
from virtualservers.forms import BgpForm, VirtualServerForm
from virtualservers.lvsconf.model import MODE_BGP, MODE_SINGLE, MODE_VRRP, LvsConfError
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render
from virtualservers.lvsconf.schema import parse_meds
from virtualservers.models import Redundancy

BGP_FILE = (
    "serial_no = 4\n"
    "primary = 192.0.2.1\n"
    "backup_active = 0\n"
    "network = direct\n"
    "bgp = 1\n"
    "bgp_local_as = 64512\n"
    "bgp_router = 192.0.2.254\n"
    "bgp_router2 = 198.51.100.254\n"
    "bgp_router_as = 4200000000\n"
    "bgp_bfd = 0\n"
    "bgp_bfd_interval = 300\n"
    "bgp_bfd_multiplier = 5\n"
    "bgp_hold_time = 30\n"
    "bgp_password_file = /etc/lvsadmin/bgp-password\n"
    "bgp_med = 192.0.2.1=10,192.0.2.2=20\n"
)


def test_the_bgp_keys_read_back_byte_for_byte():
    config, warnings = parse(BGP_FILE)
    assert warnings == []
    assert config.bgp_local_as == 64512 and config.bgp_router_as == 4200000000
    assert (config.bgp_router, config.bgp_router2) == ("192.0.2.254", "198.51.100.254")
    assert render(config) == BGP_FILE


def test_the_mode_is_bgp_whatever_backup_active_says():
    config, _ = parse(
        BGP_FILE.replace("backup_active = 0", "backup_active = 1\nbackup = 192.0.2.2")
    )
    assert config.redundancy_mode == MODE_BGP
    assert not config.redundant  # keepalived plays no part


def test_the_other_two_modes_are_unchanged():
    single, _ = parse("primary = 192.0.2.1\nbackup_active = 0\n")
    vrrp, _ = parse("primary = 192.0.2.1\nbackup_active = 1\nbackup = 192.0.2.2\n")
    assert (single.redundancy_mode, vrrp.redundancy_mode) == (MODE_SINGLE, MODE_VRRP)
    assert "bgp" not in render(vrrp)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("bgp_local_as = 0", "bgp_local_as 0 is outside 1-4294967295"),
        ("bgp_router_as = 4294967296", "bgp_router_as 4294967296 is outside"),
        ("bgp_hold_time = 2", "bgp_hold_time 2 is outside 3-65535"),
        ("bgp_bfd_interval = 5", "bgp_bfd_interval 5 is outside 10-60000"),
        ("bgp_router = router.example", "an address is required here"),
        ("bgp_med = 192.0.2.1:10", "expected DIRECTOR_IPV4=MED"),
        ("bgp_med = 192.0.2.1=10,192.0.2.1=20", "named twice"),
        ("bgp_med = 192.0.2.1=-1", "the MED is a number"),
    ],
)
def test_a_bad_bgp_value_is_refused_naming_its_line(line, reason):
    with pytest.raises(LvsConfError, match=reason) as caught:
        parse(f"primary = 192.0.2.1\n{line}\n")
    assert caught.value.line == 2


def test_meds_are_keyed_by_each_directors_address():
    assert parse_meds("192.0.2.1=10,192.0.2.2=0") == {"192.0.2.1": 10, "192.0.2.2": 0}


@pytest.mark.django_db
def test_the_bgp_keys_survive_the_draft():
    config, _ = parse(BGP_FILE)
    replace_draft(config)
    assert render(draft_config(4)) == BGP_FILE


@pytest.mark.django_db
def test_a_piranha_file_gets_no_bgp_key_through_the_draft():
    text = "serial_no = 2\nprimary = 192.0.2.1\nbackup_active = 1\nbackup = 192.0.2.2\n"
    replace_draft(parse(text)[0])
    assert render(draft_config(2)) == text


def form(**data):
    base = {"bgp_local_as": "64512", "bgp_router": "192.0.2.254", "bgp_router_as": "64513"}
    return BgpForm({**base, **data}, instance=Redundancy.load())


@pytest.mark.django_db
def test_the_bgp_form_keeps_defaults_absent_from_lvs_cf():
    bound = form(bgp_bfd="on")
    assert bound.is_valid(), bound.errors
    bound.save()
    text = render(draft_config())
    assert (
        "bgp = 1\nbgp_local_as = 64512\nbgp_router = 192.0.2.254\nbgp_router_as = 64513\n" in text
    )
    assert "bgp_bfd" not in text and "bgp_hold_time" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, field",
    [
        ({"bgp_local_as": "0"}, "bgp_local_as"),
        ({"bgp_local_as": "4294967296"}, "bgp_local_as"),
        ({"bgp_router_as": ""}, "bgp_router_as"),
        ({"bgp_router": "2001:db8::1"}, "bgp_router"),
        ({"bgp_router2": "192.0.2.254"}, "bgp_router2"),
        ({"bgp_hold_time": "1"}, "bgp_hold_time"),
        ({"bgp_bfd_interval": "9"}, "bgp_bfd_interval"),
        ({"bgp_password_file": "bgp-password"}, "bgp_password_file"),
        ({"bgp_med": "192.0.2.1=ten"}, "bgp_med"),
        # BFD slower than the hold timer is no use: 1000 ms x 3 against 3 s.
        (
            {"bgp_bfd": "on", "bgp_bfd_interval": "1000", "bgp_hold_time": "3"},
            "bgp_bfd_interval",
        ),
    ],
)
def test_the_bgp_form_refuses_a_bad_value_on_its_field(data, field):
    bound = form(**data)
    assert not bound.is_valid()
    assert field in bound.errors


@pytest.mark.django_db
def test_the_virtual_server_form_warns_about_a_scheduler_other_than_mh_in_bgp_mode():
    assert VirtualServerForm().mh_warning == ""
    Redundancy.objects.update_or_create(pk=1, defaults={"bgp": True})
    shown = VirtualServerForm()
    assert "mh (Maglev hashing)" in shown.mh_warning
    assert "mh (Maglev hashing)" in str(shown.fields["scheduler"].help_text)
