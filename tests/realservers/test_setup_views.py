"""The Set up pages: from the published lvs.cf (its serial named), downloads, copy buttons
without inline script, login required, readable by a viewer, and nothing published yet."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from realservers.models import RealServer
from realservers.setup.plan import PASSWORD_PLACEHOLDER
from tests.realservers.setup_support import lvs_cf
from virtualservers.models import CheckKind, MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_LVS_CF.write_text(lvs_cf(serial=12))
    return settings.LVSADMIN_LVS_CF


@pytest.fixture
def virtual():
    virtual = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(
        virtual_server=virtual,
        kind=CheckKind.MYSQL,
        mysql_user="lvs_check",
        mysql_password="s3cret-never-shown",
    )
    return virtual


@pytest.fixture
def real(virtual):
    return RealServer.objects.create(virtual_server=virtual, name="mysql1", address="192.0.2.241")


def real_url(real, **query):
    url = reverse("realservers:real_setup", args=[real.virtual_server_id, real.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_it_shows_the_set_up_of_one_real_server_and_the_revision_it_reflects(
    admin_client, published, real
):
    html = admin_client.get(real_url(real)).content.decode()
    assert "lvs.cf serial_no 12" in html
    assert "192.0.2.241" in html and "accepts 192.0.2.240, 192.0.2.250" in html
    assert "ExecStart=/usr/local/sbin/lvsadmin-realserver start" in html
    assert "GRANT USAGE ON *.* TO &#x27;lvs_check&#x27;@&#x27;192.0.2.1&#x27;" in html


def test_the_stored_mysql_password_is_never_shown_back(admin_client, published, real):
    for query in ({}, {"format": "sql"}):
        text = admin_client.get(real_url(real, **query)).content.decode()
        assert "s3cret-never-shown" not in text
        assert PASSWORD_PLACEHOLDER in text


@pytest.mark.parametrize(
    "fmt, name, needle",
    [
        ("script", "lvsadmin-realserver", "#!/bin/sh"),
        ("unit", "lvsadmin-realserver.service", "Type=oneshot"),
        ("sql", "lvsadmin-monitoring-account.sql", "CREATE USER"),
    ],
)
def test_each_text_downloads_as_an_attachment(admin_client, published, real, fmt, name, needle):
    response = admin_client.get(real_url(real, format=fmt))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Type"].startswith("text/plain")
    assert needle in response.content.decode()


def test_the_arp_method_is_chosen_on_the_page(admin_client, published, real):
    script = admin_client.get(real_url(real, format="script", arp="nftables")).content.decode()
    assert "ARP=nftables\n" in script
    html = admin_client.get(real_url(real, arp="arptables")).content.decode()
    assert '<option value="arptables" selected>' in html


def test_an_unknown_arp_method_falls_back_to_the_default(admin_client, published, real):
    script = admin_client.get(real_url(real, format="script", arp="$(id)")).content.decode()
    assert "ARP=sysctl\n" in script


def test_the_virtual_servers_page_covers_all_its_real_servers(admin_client, published, virtual):
    url = reverse("realservers:virtual_setup", args=[virtual.pk])
    html = admin_client.get(url).content.decode()
    assert "Set up every real server of mysql" in html
    assert "REAL_ADDRESSES=&#x27;192.0.2.241 192.0.2.242&#x27;" in html
    response = admin_client.get(url + "?format=script")
    assert response["Content-Disposition"] == 'attachment; filename="lvsadmin-realserver"'


def test_it_says_clearly_when_nothing_is_published_yet(admin_client, settings, tmp_path, real):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    response = admin_client.get(real_url(real))
    assert response.status_code == 200
    assert "Nothing is published yet" in response.content.decode()
    download = admin_client.get(real_url(real, format="script"))
    assert download.status_code == 404 and "Content-Disposition" not in download
    assert "Nothing is published yet" in download.content.decode()


def test_a_real_server_only_in_the_draft_says_to_apply(admin_client, published, virtual):
    draft_only = RealServer.objects.create(
        virtual_server=virtual, name="mysql9", address="192.0.2.249"
    )
    html = admin_client.get(real_url(draft_only)).content.decode()
    assert "no real server &#x27;mysql/mysql9&#x27; in the published lvs.cf" in html
    assert "Apply" in html


def test_the_copy_buttons_use_the_sites_own_script_not_inline_code(admin_client, published, real):
    html = admin_client.get(real_url(real)).content.decode()
    assert 'data-copy-target="setup-script"' in html
    assert '<script src="/static/lvsadmin/copy.js" defer></script>' in html
    assert "onclick" not in html and "<script>" not in html


def test_the_list_links_each_real_server_and_the_whole_virtual_to_set_up(admin_client, real):
    html = admin_client.get(reverse("realservers:real_list", args=[real.virtual_server_id])).content
    assert real_url(real).encode() in html
    assert reverse("realservers:virtual_setup", args=[real.virtual_server_id]).encode() in html


def test_the_set_up_needs_a_login(client, published, real):
    response = client.get(real_url(real, format="script"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_viewer_may_read_the_set_up(client, published, real):
    viewer = User.objects.create_user("viewer", password="a-long-password-1")
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    assert client.get(real_url(real)).status_code == 200
    assert client.post(real_url(real)).status_code == 405  # read-only
