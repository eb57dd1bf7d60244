"""VIRTUAL SERVERS list and the VIRTUAL SERVER subtab (add, edit, delete, (de)activate)."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.models import AuditEntry
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db
LIST = reverse("virtualservers:virtual_list")
ADD = reverse("virtualservers:virtual_add")


def form_data(**changes):
    data = {
        "name": "www",
        "port": "80",
        "protocol": "tcp",
        "address": "192.0.2.100",
        "vip_nmask": "",
        "sorry_server": "",
        "fwmark": "",
        "device": "eth0:1",
        "reentry": "15",
        "timeout": "6",
        "quiesce_server": "0",
        "load_monitor": "none",
        "scheduler": "wlc",
        "persistent": "",
        "pmask": "",
    }
    data.update(changes)
    return data


def make(name="www", **fields):
    fields.setdefault("address", "192.0.2.100")
    return VirtualServer.objects.create(name=name, **fields)


def test_it_lists_virtual_servers_with_piranhas_columns(admin_client):
    make("www", active=True, vip_nmask="255.255.255.0")
    make("ftp", address="192.0.2.101", port=21, device="eth0:2")
    response = admin_client.get(LIST)
    html = response.content.decode()
    assert "<title>lvsadmin (Virtual Servers)</title>" in html
    for column in ["STATUS", "NAME", "VIP", "NETMASK", "PORT", "PROTOCOL", "INTERFACE"]:
        assert f"<th>{column}</th>" in html
    assert '<span class="config-active">active</span>' in html
    assert '<span class="config-inactive">inactive</span>' in html
    assert "255.255.255.0" in html and "Unused" in html
    assert "eth0:2" in html
    for button in [">ADD</button>", ">EDIT</button>", ">DELETE</button>", ">(DE)ACTIVATE</button>"]:
        assert button in html


def test_it_filters_the_list(admin_client):
    make("www")
    make("mail", address="192.0.2.25", port=25)
    html = admin_client.get(LIST, {"q": "mail"}).content.decode()
    assert ">mail</a>" in html and ">www</a>" not in html


def test_the_filter_finds_a_virtual_server_by_one_of_its_real_servers_addresses(admin_client):
    www = make("www")
    make("mail", address="192.0.2.25", port=25)
    RealServer.objects.create(virtual_server=www, name="web1", address="203.0.113.77")
    html = admin_client.get(LIST, {"q": "203.0.113.77"}).content.decode()
    assert ">www</a>" in html and ">mail</a>" not in html
    assert "real server address" in html  # the box says what it searches


def test_it_lists_with_a_constant_number_of_queries(admin_client):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST).status_code == 200
        return len(queries)

    make("v0")
    few = count()
    for index in range(1, 30):
        virtual = make(f"v{index}", address=f"192.0.2.{index}")
        RealServer.objects.create(virtual_server=virtual, name="r", address="10.0.0.1")
    assert count() == few


def test_it_paginates_long_lists(admin_client):
    VirtualServer.objects.bulk_create(
        VirtualServer(name=f"v{i:04d}", address=f"10.0.{i // 250}.{i % 250 + 1}", position=i)
        for i in range(150)
    )
    html = admin_client.get(LIST).content.decode()
    assert ">v0099</a>" in html and ">v0100</a>" not in html
    assert "Page 1 of 2 (150 virtual servers)" in html
    assert ">v0100</a>" in admin_client.get(LIST, {"page": 2}).content.decode()


def test_it_opens_the_add_form_with_piranhas_defaults_without_creating_anything(admin_client):
    response = admin_client.get(ADD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>lvsadmin (Virtual Servers - Editing virtual server)</title>" in html
    form = response.context["form"]
    assert form["name"].value() == "virtual1"
    assert form["port"].value() == 80
    assert (form["protocol"].value(), form["scheduler"].value()) == ("tcp", "wlc")
    assert (form["timeout"].value(), form["reentry"].value()) == (6, 15)
    assert form["device"].value() == "eth0:1"
    assert VirtualServer.objects.count() == 0


def test_it_shows_every_field_label_of_the_virtual_server_subtab(admin_client):
    html = admin_client.get(ADD).content.decode()
    for label in [
        "Name",
        "Application port",
        "Protocol",
        "Virtual IP Address",
        "Virtual IP Network Mask",
        "Sorry Server",
        "Firewall Mark",
        "Device",
        "Re-entry Time",
        "Service timeout",
        "Quiesce server",
        "Load monitoring tool",
        "Scheduling",
        "Persistence",
        "Persistence Network Mask",
        ">ACCEPT</button>",
        ">CANCEL</button>",
        "Weighted least-connections",
        "Shortest expected delay (not Piranha-compatible)",
        ">Unused<",
        ">255.255.254.0<",
    ]:
        assert label in html, label


def test_it_adds_an_inactive_virtual_with_its_monitoring_script(admin_client):
    response = admin_client.post(ADD, form_data(name="web_site", port="https"))
    virtual = VirtualServer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("virtualservers:virtual_edit", args=[virtual.pk])
    assert (virtual.name, virtual.port, virtual.active) == ("web_site", 443, False)
    script = MonitoringScript.objects.get(virtual_server=virtual)
    assert (script.send, script.expect) == ("GET / HTTP/1.0\\r\\n\\r\\n", "HTTP")


def test_it_suggests_the_next_free_name(admin_client):
    make("virtual1")
    assert admin_client.get(ADD).context["form"]["name"].value() == "virtual2"


def test_it_cancels_an_add(admin_client):
    response = admin_client.post(ADD, {"cancel": "1"})
    assert response["Location"] == LIST
    assert VirtualServer.objects.count() == 0


def test_it_edits_a_virtual_server(admin_client):
    virtual = make()
    url = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    html = admin_client.get(url).content.decode()
    for subtab in ["VIRTUAL SERVER", "REAL SERVER", "MONITORING SCRIPTS"]:
        assert f">{subtab}</a>" in html
    response = admin_client.post(
        url,
        form_data(
            vip_nmask="255.255.254.0",
            scheduler="rr",
            persistent="300",
            pmask="255.255.255.0",
            quiesce_server="1",
            sorry_server="192.0.2.50",
        ),
    )
    assert response.status_code == 302
    virtual.refresh_from_db()
    assert (virtual.vip_nmask, virtual.scheduler, virtual.persistent, virtual.pmask) == (
        "255.255.254.0",
        "rr",
        300,
        "255.255.255.0",
    )
    assert (virtual.quiesce_server, virtual.sorry_server) == (True, "192.0.2.50")


def test_accepting_an_imported_virtual_without_scheduler_or_protocol_keeps_them_absent(
    admin_client,
):
    # lvs.cf may omit both (the daemons then use wlc and tcp); the model requires a value.
    virtual = make(scheduler="", protocol="", load_monitor="", quiesce_server=None)
    url = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    response = admin_client.post(url, form_data())
    assert response.status_code == 302
    virtual.refresh_from_db()
    assert (virtual.scheduler, virtual.protocol, virtual.load_monitor) == ("", "", "")
    assert virtual.quiesce_server is None
    admin_client.post(url, form_data(scheduler="rr", protocol="udp"))
    virtual.refresh_from_db()
    assert (virtual.scheduler, virtual.protocol) == ("rr", "udp")


def test_an_absent_protocol_counts_as_tcp_when_looking_for_a_duplicate_vip(admin_client):
    make(name="first", port=80, protocol="tcp")
    virtual = make(name="second", port=81, scheduler="", protocol="")
    url = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    response = admin_client.post(url, form_data(name="second", port="80"))
    assert response.status_code == 200
    assert "address" in response.context["form"].errors


def test_it_keeps_a_netmask_piranha_did_not_offer(admin_client):
    virtual = make(vip_nmask="255.0.0.0")
    html = admin_client.get(
        reverse("virtualservers:virtual_edit", args=[virtual.pk])
    ).content.decode()
    assert '<option value="255.0.0.0" selected>' in html


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"port": "no-such-service"}, "port"),
        ({"port": "70000"}, "port"),
        ({"address": "192.0.2.300"}, "address"),
        ({"address": "fe80::1%eth0"}, "address"),  # an IPv6 zone id
        ({"device": "eth0:1 x"}, "device"),
        ({"name": ""}, "name"),
        ({"pmask": "255.255.255.0"}, "pmask"),  # a persistence mask needs a persistence
        ({"timeout": "0"}, "timeout"),
        ({"scheduler": "bogus"}, "scheduler"),
        ({"sorry_server": "sorry"}, "sorry_server"),
        ({"sorry_server": "2001:db8::1%$(id)"}, "sorry_server"),
    ],
)
def test_it_shows_each_error_on_its_field_and_changes_nothing(admin_client, changes, field):
    virtual = make()
    response = admin_client.post(
        reverse("virtualservers:virtual_edit", args=[virtual.pk]), form_data(**changes)
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert 'class="invalid-feedback"' in response.content.decode()
    virtual.refresh_from_db()
    assert (virtual.name, virtual.port, virtual.address, virtual.pmask) == (
        "www",
        80,
        "192.0.2.100",
        "",
    )


def test_it_refuses_a_second_virtual_on_the_same_vip_port_and_protocol(admin_client):
    make("www")
    response = admin_client.post(ADD, form_data(name="copy"))
    assert response.context["form"].errors["address"] == [
        "Another virtual server already uses 192.0.2.100 port 80/tcp."
    ]
    assert VirtualServer.objects.count() == 1


def test_it_refuses_a_duplicate_name_or_firewall_mark(admin_client):
    make("www", fwmark=10)
    response = admin_client.post(ADD, form_data(name="www", address="192.0.2.9", fwmark="10"))
    assert set(response.context["form"].errors) == {"name", "fwmark"}


def test_it_escapes_what_users_typed(admin_client):
    virtual = make()
    response = admin_client.post(
        reverse("virtualservers:virtual_edit", args=[virtual.pk]), form_data(device="<script>")
    )
    html = response.content.decode()
    assert "<script>" not in html  # the page's own script tags all have a src attribute
    assert "&lt;script&gt;" in html


def test_it_toggles_active_on_post(admin_client):
    virtual = make()
    url = reverse("virtualservers:virtual_toggle", args=[virtual.pk])
    assert admin_client.post(url).status_code == 302
    virtual.refresh_from_db()
    assert virtual.active is True
    admin_client.post(url)
    virtual.refresh_from_db()
    assert virtual.active is False


def test_it_returns_to_the_list_page_it_came_from_but_never_elsewhere(admin_client):
    virtual = make()
    url = reverse("virtualservers:virtual_toggle", args=[virtual.pk])
    assert admin_client.post(url, {"next": "/virtual/?page=2"})["Location"] == "/virtual/?page=2"
    assert admin_client.post(url, {"next": "https://evil.example/"})["Location"] == LIST


def test_the_virtual_server_subtab_shows_its_state_and_toggles_it(admin_client):
    virtual = make()
    edit = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    html = admin_client.get(edit).content.decode()
    assert 'Status: <span class="config-inactive">inactive</span>' in html
    toggle = reverse("virtualservers:virtual_toggle", args=[virtual.pk])
    form = re.search(rf'<form method="post" action="{toggle}">(.*?)</form>', html).group(1)
    assert "csrfmiddlewaretoken" in form and ">(DE)ACTIVATE</button>" in form
    next_url = re.search(r'name="next" value="([^"]*)"', form).group(1)
    response = admin_client.post(toggle, {"next": next_url}, follow=True)
    assert response.redirect_chain[-1][0] == edit
    html = response.content.decode()
    assert "Virtual server www activated." in html
    assert 'Status: <span class="config-active">active</span>' in html
    entry = AuditEntry.objects.latest("pk")
    assert entry.action == "activate" and "www" in entry.target


def test_a_viewer_sees_the_state_without_the_button(client, django_user_model):
    virtual = make()
    user = django_user_model.objects.create_user("vera")
    user.groups.add(Group.objects.get(name="viewer"))
    client.force_login(user)
    html = client.get(reverse("virtualservers:virtual_edit", args=[virtual.pk])).content.decode()
    assert "Status: " in html and "(DE)ACTIVATE" not in html


def test_a_name_with_blanks_is_refused_on_its_field_with_the_one_word_form(admin_client):
    response = admin_client.post(ADD, form_data(name="my sql"))
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "A name is one word in lvs.cf, without blanks: type my_sql, for example."
    ]
    assert not VirtualServer.objects.exists()


def test_a_vip_equal_to_a_real_servers_address_is_saved_with_a_warning(admin_client):
    virtual = make()
    RealServer.objects.create(virtual_server=virtual, name="db1", address="192.0.2.101")
    url = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    response = admin_client.post(url, form_data(address="192.0.2.101"), follow=True)
    virtual.refresh_from_db()
    assert virtual.address == "192.0.2.101"
    html = response.content.decode()
    assert 'class="alert alert-warning"' in html
    assert "The VIP 192.0.2.101 is also the address of real server db1" in html
    response = admin_client.post(url, form_data(address="192.0.2.100"), follow=True)
    assert "alert-warning" not in response.content.decode()


def test_it_never_toggles_on_get(admin_client):
    virtual = make()
    response = admin_client.get(reverse("virtualservers:virtual_toggle", args=[virtual.pk]))
    assert response.status_code == 405
    virtual.refresh_from_db()
    assert virtual.active is False


def test_it_asks_before_deleting_and_deletes_on_post(admin_client):
    virtual = make()
    RealServer.objects.create(virtual_server=virtual, name="web1", address="10.0.0.1")
    MonitoringScript.objects.create(virtual_server=virtual)
    url = reverse("virtualservers:virtual_delete", args=[virtual.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "Delete virtual server <strong>www</strong>" in response.content.decode()
    assert "with its 1 real server " in response.content.decode()
    assert VirtualServer.objects.count() == 1
    response = admin_client.post(url)
    assert response["Location"] == LIST
    assert VirtualServer.objects.count() == RealServer.objects.count() == 0
    assert MonitoringScript.objects.count() == 0


def test_it_answers_404_for_an_unknown_virtual(admin_client):
    assert admin_client.get(reverse("virtualservers:virtual_edit", args=[999])).status_code == 404
    assert (
        admin_client.post(reverse("virtualservers:virtual_toggle", args=[999])).status_code == 404
    )


def test_it_requires_a_login(client):
    virtual = make()
    for url in [LIST, ADD, reverse("virtualservers:virtual_edit", args=[virtual.pk])]:
        assert client.get(url).status_code == 302
    client.post(reverse("virtualservers:virtual_toggle", args=[virtual.pk]))
    client.post(reverse("virtualservers:virtual_delete", args=[virtual.pk]))
    virtual.refresh_from_db()
    assert virtual.active is False


def test_it_refuses_a_post_without_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    virtual = make()
    assert (
        client.post(reverse("virtualservers:virtual_toggle", args=[virtual.pk])).status_code == 403
    )
    assert (
        client.post(reverse("virtualservers:virtual_delete", args=[virtual.pk])).status_code == 403
    )
    virtual.refresh_from_db()
    assert virtual.active is False


def test_a_nul_byte_in_the_port_is_an_error_on_the_field(admin_client):
    response = admin_client.post(ADD, form_data(port="8\x000"))
    assert response.status_code == 200
    assert "port" in response.context["form"].errors
    assert not VirtualServer.objects.exists()


@pytest.mark.parametrize("tool", ["rup", "ruptime"])
def test_rup_and_ruptime_are_refused_naming_the_replacements(admin_client, tool):
    response = admin_client.post(ADD, form_data(load_monitor=tool))
    assert response.status_code == 200
    [error] = response.context["form"].errors["load_monitor"]
    assert f"{tool} needs a daemon (rstatd or rwhod)" in error
    assert "agent (HAProxy's agent check), mysql" in error and "uptime (over ssh)" in error
    assert not VirtualServer.objects.exists()


def test_the_agent_needs_its_port_and_writes_its_keys(admin_client):
    response = admin_client.post(ADD, form_data(load_monitor="agent"))
    assert response.context["form"].errors["agent_port"] == [
        "The agent check needs the port its agents answer on."
    ]
    response = admin_client.post(ADD, form_data(load_monitor="agent", agent_port="9777"))
    assert response.status_code == 302
    virtual = VirtualServer.objects.get()
    assert (virtual.load_monitor, virtual.agent_port, virtual.agent_inter) == ("agent", 9777, None)


def test_another_tool_leaves_no_agent_keys(admin_client):
    virtual = make(load_monitor="agent", agent_port=9777, agent_inter=5)
    edit = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    admin_client.post(edit, form_data(load_monitor="none", agent_port="9777", agent_inter="5"))
    virtual.refresh_from_db()
    assert (virtual.load_monitor, virtual.agent_port, virtual.agent_inter) == ("none", None, None)


def test_uptime_needs_ssh_as_the_remote_shell(admin_client):
    from virtualservers.models import GlobalSettings

    response = admin_client.post(ADD, form_data(load_monitor="uptime"))
    [error] = response.context["form"].errors["load_monitor"]
    assert "uptime runs over ssh only" in error
    settings = GlobalSettings.load()
    settings.rsh_command = "ssh"
    settings.save()
    assert admin_client.post(ADD, form_data(load_monitor="uptime")).status_code == 302


def test_mysql_load_needs_the_builtin_mysql_check(admin_client):
    virtual = make()
    edit = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    response = admin_client.post(edit, form_data(load_monitor="mysql"))
    [error] = response.context["form"].errors["load_monitor"]
    assert "choose that check on MONITORING SCRIPTS first" in error
    MonitoringScript.objects.create(virtual_server=virtual, kind="mysql")
    assert admin_client.post(edit, form_data(load_monitor="mysql")).status_code == 302
    virtual.refresh_from_db()
    assert virtual.load_monitor == "mysql"


def test_a_value_kept_by_an_import_shows_the_parsers_warning_on_its_field(admin_client):
    # pulse runs a 0-second check interval; the import kept it, and the page says why the form
    # will refuse it until it is changed.
    virtual = make(timeout=0, reentry=15)
    html = admin_client.get(reverse("virtualservers:virtual_edit", args=[virtual.pk])).content
    html = html.decode()
    hint = html.split('id="id_timeout"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "timeout 0 is outside 1-86400: kept as pulse would run it" in hint
    reentry = html.split('id="id_reentry"', 1)[1].split('id="id_timeout"', 1)[0]
    assert "outside" not in reentry


def test_the_warning_on_a_field_is_escaped(admin_client, monkeypatch):
    from virtualservers import tabs

    # crispy renders help text as HTML; a warning quotes a value that came from a file.
    monkeypatch.setattr(tabs, "lvs_cf_warnings", lambda section, row: {"device": ["<b>eth0</b>"]})
    virtual = make()
    html = admin_client.get(reverse("virtualservers:virtual_edit", args=[virtual.pk])).content
    hint = html.decode().split('id="id_device"', 1)[1].split('<div class="mb-3"', 1)[0]
    assert "&lt;b&gt;eth0&lt;/b&gt;" in hint and "<b>eth0" not in hint
