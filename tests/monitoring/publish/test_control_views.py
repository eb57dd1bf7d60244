"""CONTROL/MONITORING (pending changes, Apply, revisions) and the MONITORING SCRIPTS subtab."""

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.models import Revision
from monitoring.publish import revisions as publish
from realservers.models import RealServer
from virtualservers.models import GlobalSettings, MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db
CONTROL = reverse("monitoring:control")
APPLY = reverse("monitoring:apply")


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "ha" / "lvs.cf"
    return settings.LVSADMIN_LVS_CF


@pytest.fixture
def virtual():
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)
    MonitoringScript.objects.create(virtual_server=virtual)
    return virtual


# --- CONTROL/MONITORING -------------------------------------------------------------------------


def test_it_is_the_home_page_with_the_live_panel_and_apply(admin_client):
    response = admin_client.get(CONTROL)
    html = response.content.decode()
    assert CONTROL == "/"
    assert "<title>lvsadmin (Control/Monitoring)</title>" in html
    assert "Daemon:" in html  # the live panel (monitoring/_live.html)
    assert ">Apply</button>" in html
    assert 'aria-current="page" href="/">CONTROL/MONITORING' in html
    for tab in ["GLOBAL SETTINGS", "REDUNDANCY", "VIRTUAL SERVERS"]:
        assert f">{tab}</a>" in html
    assert "Log out" in html


def test_it_shows_pending_changes_as_a_diff_of_lvs_cf(admin_client, virtual):
    html = admin_client.get(CONTROL).content.decode()
    assert "Pending changes: the draft differs from the published lvs.cf" in html
    assert '<span class="diff-add">+virtual www {</span>' in html


def test_it_applies_the_draft_and_then_has_nothing_pending(admin_client, virtual, lvs_cf):
    response = admin_client.post(APPLY, {"comment": "first <b>"})
    assert response.status_code == 302
    revision = Revision.objects.get()
    assert revision.serial_no == 1
    assert revision.created_by.username == "admin"
    assert lvs_cf.read_text() == revision.text
    assert "virtual www {" in revision.text
    html = admin_client.get(CONTROL).content.decode()
    assert f"Published lvs.cf serial 1 to {lvs_cf}." in html
    assert "Pending changes" not in html
    assert "No pending changes" in html
    assert "first &lt;b&gt;" in html


def test_it_shows_the_change_after_an_edit(admin_client, virtual):
    admin_client.post(APPLY)
    VirtualServer.objects.filter(pk=virtual.pk).update(port=8080)
    html = admin_client.get(CONTROL).content.decode()
    assert "Pending changes" in html
    assert '<span class="diff-del">-     port = 80</span>' in html
    assert '<span class="diff-add">+     port = 8080</span>' in html


def test_it_lists_revisions_with_view_diff_and_restore_links(admin_client, virtual):
    admin_client.post(APPLY)
    VirtualServer.objects.filter(pk=virtual.pk).update(port=8080)
    admin_client.post(APPLY)
    html = admin_client.get(CONTROL).content.decode()
    for column in ["SERIAL", "PUBLISHED BY", "PUBLISHED AT"]:
        assert f"<th>{column}</th>" in html
    assert 'href="/revisions/2/?against=1">diff against 1</a>' in html
    assert 'href="/revisions/1/">view</a>' in html
    assert 'href="/revisions/2/restore/">restore</a>' in html


def test_it_warns_when_lvs_cf_on_disk_is_not_what_was_published(admin_client, virtual, lvs_cf):
    admin_client.post(APPLY)
    assert "differs from published" not in admin_client.get(CONTROL).content.decode()
    lvs_cf.write_text("serial_no = 1\nservice = lvs\n")
    html = admin_client.get(CONTROL).content.decode()
    assert f"{lvs_cf} differs from published serial 1 (edited by hand?)" in html
    lvs_cf.unlink()
    assert f"{lvs_cf} is missing." in admin_client.get(CONTROL).content.decode()


def test_it_says_why_the_draft_cannot_be_rendered(admin_client, virtual, monkeypatch):
    def unwritable(config):
        raise ValueError("virtual www: 'a b' must be one word")

    monkeypatch.setattr(publish, "render", unwritable)
    html = admin_client.get(CONTROL).content.decode()
    assert (
        "The draft cannot be written to lvs.cf: virtual www: &#x27;a b&#x27; must be one word"
        in html
    )
    html = admin_client.post(APPLY, follow=True).content.decode()
    assert "Refusing to publish" in html
    assert not Revision.objects.exists()


def test_it_refuses_an_overlong_comment(admin_client, virtual):
    response = admin_client.post(APPLY, {"comment": "x" * 256}, follow=True)
    assert "Nothing was published: the comment is too long." in response.content.decode()
    assert not Revision.objects.exists()


def test_it_never_applies_on_get(admin_client, virtual, lvs_cf):
    assert admin_client.get(APPLY).status_code == 405
    assert not Revision.objects.exists()
    assert not lvs_cf.exists()


def test_it_reports_a_failed_write_and_publishes_nothing(admin_client, virtual, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.LVSADMIN_LVS_CF = blocker / "lvs.cf"  # its "directory" is a file
    response = admin_client.post(APPLY, follow=True)
    assert "Could not write" in response.content.decode()
    assert not Revision.objects.exists()
    assert GlobalSettings.load().serial_no == 0


def test_it_uses_a_constant_number_of_queries(admin_client):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CONTROL).status_code == 200
        return len(queries)

    def grow(start, stop):
        for index in range(start, stop):
            virtual = VirtualServer.objects.create(name=f"v{index}", address=f"192.0.2.{index}")
            MonitoringScript.objects.create(virtual_server=virtual)
            RealServer.objects.create(virtual_server=virtual, name="r1", address="10.0.0.1")
            RealServer.objects.create(virtual_server=virtual, name="r2", address="10.0.0.2")

    grow(1, 3)
    admin_client.post(APPLY)
    few = count()
    grow(3, 30)
    admin_client.post(APPLY)
    assert count() == few


def test_it_shows_a_revision_and_a_diff_between_two(admin_client, virtual):
    admin_client.post(APPLY)
    VirtualServer.objects.filter(pk=virtual.pk).update(scheduler="rr")
    admin_client.post(APPLY)
    html = admin_client.get(reverse("monitoring:revision", args=[1])).content.decode()
    assert "lvs.cf serial 1" in html and "scheduler = wlc" in html
    html = admin_client.get(
        reverse("monitoring:revision", args=[2]), {"against": 1}
    ).content.decode()
    assert "Changes from serial 1 to serial 2" in html
    assert '<span class="diff-del">-     scheduler = wlc</span>' in html
    assert '<span class="diff-add">+     scheduler = rr</span>' in html
    assert admin_client.get(reverse("monitoring:revision", args=[9])).status_code == 404
    assert (
        admin_client.get(reverse("monitoring:revision", args=[2]), {"against": "x"}).status_code
        == 404
    )


def test_it_restores_a_revision_into_the_draft_after_confirmation(admin_client, virtual):
    admin_client.post(APPLY)
    VirtualServer.objects.filter(pk=virtual.pk).update(port=8080)
    url = reverse("monitoring:revision_restore", args=[1])
    response = admin_client.get(url)
    assert ">RESTORE</button>" in response.content.decode()
    assert VirtualServer.objects.get().port == 8080
    response = admin_client.post(url, follow=True)
    assert "Serial 1 restored into the draft (virtual servers changed (1): www)" in (
        response.content.decode()
    )
    assert VirtualServer.objects.get().port == 80
    assert "No pending changes" in response.content.decode()


def test_it_requires_a_login(client, virtual, lvs_cf):
    response = client.get(CONTROL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.post(APPLY)
    assert not Revision.objects.exists()
    assert not lvs_cf.exists()


# --- MONITORING SCRIPTS -------------------------------------------------------------------------


def script_data(**changes):
    values = {
        "kind": "nanny",
        "send_program": "",
        "send": "GET / HTTP/1.0\\r\\n\\r\\n",
        "expect": "HTTP",
        "mysql_user": "",
        "mysql_password": "",
        "mysql_database": "",
        "mysql_query": "",
        "mysql_expect": "",
    }
    values.update(changes)
    return values


def test_it_shows_the_monitoring_scripts_with_piranhas_labels(admin_client, virtual):
    response = admin_client.get(reverse("virtualservers:monitoring_script", args=[virtual.pk]))
    html = response.content.decode()
    assert "<title>lvsadmin (Virtual Servers - MONITORING SCRIPTS)</title>" in html
    for label in [
        "Sending Program",
        "Send",
        "Expect",
        "Treat expect string as a regular expression",
        ">ACCEPT</button>",
        ">BLANK SEND</button>",
        ">BLANK EXPECT</button>",
        ">NO SEND PROGRAM</button>",
        "MySQL user",
        'maxlength="255"',
    ]:
        assert label in html, label
    assert 'value="GET / HTTP/1.0\\r\\n\\r\\n"' in html


def test_it_accepts_send_expect_and_a_regex(admin_client, virtual):
    url = reverse("virtualservers:monitoring_script", args=[virtual.pk])
    response = admin_client.post(
        url,
        script_data(send="HEAD / HTTP/1.0\\r\\n\\r\\n", expect="HTTP/1.[01] 200", use_regex="on"),
    )
    assert response.status_code == 302
    script = MonitoringScript.objects.get()
    assert (script.send, script.expect, script.use_regex) == (
        "HEAD / HTTP/1.0\\r\\n\\r\\n",
        "HTTP/1.[01] 200",
        True,
    )


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"expect": "HTTP/1.[01", "use_regex": "on"}, "expect"),
        ({"send_program": "check.sh %h"}, "send_program"),
        ({"send": 'say "hi"'}, "send"),
        ({"expect": "x" * 256}, "expect"),
        ({"kind": "mysql"}, "mysql_user"),
    ],
)
def test_it_shows_each_error_on_its_field_and_changes_nothing(
    admin_client, virtual, changes, field
):
    response = admin_client.post(
        reverse("virtualservers:monitoring_script", args=[virtual.pk]), script_data(**changes)
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    script = MonitoringScript.objects.get()
    assert (script.kind, script.send_program, script.expect) == ("nanny", "", "HTTP")


def test_it_keeps_the_mysql_password_when_left_blank_and_never_shows_it(admin_client, virtual):
    url = reverse("virtualservers:monitoring_script", args=[virtual.pk])
    admin_client.post(
        url,
        script_data(
            kind="mysql", mysql_user="monitor", mysql_password="s3cret", mysql_query="SELECT 1"
        ),
    )
    assert MonitoringScript.objects.get().mysql_password == "s3cret"
    html = admin_client.get(url).content.decode()
    assert "s3cret" not in html
    assert "A password is stored." in html
    admin_client.post(url, script_data(kind="mysql", mysql_user="monitor2"))
    script = MonitoringScript.objects.get()
    assert (script.kind, script.mysql_user, script.mysql_password) == (
        "mysql",
        "monitor2",
        "s3cret",
    )
    admin_client.post(
        url, script_data(kind="mysql", mysql_user="monitor2", clear_mysql_password="on")
    )
    assert MonitoringScript.objects.get().mysql_password == ""


@pytest.mark.parametrize(
    "what, field, value",
    [("send", "send", None), ("expect", "expect", None), ("program", "send_program", "")],
)
def test_it_blanks_one_field_with_piranhas_buttons(admin_client, virtual, what, field, value):
    MonitoringScript.objects.update(send_program="/usr/local/bin/check %h")
    url = reverse("virtualservers:monitoring_blank", args=[virtual.pk, what])
    assert admin_client.get(url).status_code == 405
    assert getattr(MonitoringScript.objects.get(), field)
    admin_client.post(url)
    assert getattr(MonitoringScript.objects.get(), field) == value


def test_it_creates_the_script_of_a_virtual_imported_without_one(admin_client):
    virtual = VirtualServer.objects.create(name="bare", address="192.0.2.7")
    url = reverse("virtualservers:monitoring_script", args=[virtual.pk])
    assert admin_client.get(url).status_code == 200
    assert not MonitoringScript.objects.exists()
    admin_client.post(url, script_data(kind="tcp", send="", expect=""))
    script = MonitoringScript.objects.get(virtual_server=virtual)
    assert (script.kind, script.send, script.expect) == ("tcp", None, None)


def test_it_requires_a_login_for_monitoring_scripts(client, virtual):
    assert (
        client.get(reverse("virtualservers:monitoring_script", args=[virtual.pk])).status_code
        == 302
    )
    client.post(reverse("virtualservers:monitoring_blank", args=[virtual.pk, "send"]))
    assert MonitoringScript.objects.get().send


def test_lvs_cf_is_not_world_readable(admin_client, virtual, lvs_cf):
    admin_client.post(APPLY)
    assert os.stat(lvs_cf).st_mode & 0o777 == publish.LVS_CF_MODE


# --- Opening and accepting every page of an imported file changes nothing ------------------------

IMPORTED = """serial_no = 76
primary = 192.0.2.10
service = lvs
backup_active = 1
backup = 192.0.2.11
heartbeat = 1
heartbeat_port = 539
keepalive = 6
deadtime = 18
nat_router = 10.0.0.254 eth1:1
nat_nmask = 255.255.255.0
debug_level = NONE
virtual www {
     active = 1
     address = 192.0.2.100 eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     send = "GET / HTTP/1.0\\r\\n\\r\\n"
     expect = "HTTP"
     load_monitor = none
     scheduler = wlc
     protocol = tcp
     timeout = 6
     reentry = 15
     quiesce_server = 0
     server web1 {
         address = 10.0.0.1
         active = 1
         weight = 1
     }
}
virtual bare {
     address = 192.0.2.101 eth0:2
     port = 25
     server mx1 {
         address = 10.0.0.2
     }
}
"""


def accept_data(form) -> dict:
    """What a browser posts when the user clicks ACCEPT without touching anything."""
    from django.forms import CheckboxInput, NullBooleanSelect, PasswordInput

    data = {}
    for field in form:
        widget, value = field.field.widget, field.value()
        if isinstance(widget, CheckboxInput):
            if value:
                data[field.html_name] = "on"
            continue
        if isinstance(widget, PasswordInput):
            value = ""
        elif isinstance(widget, NullBooleanSelect):
            value = {True: "true", False: "false"}.get(value, "unknown")
        data[field.html_name] = "" if value is None else value
    return data


def test_it_changes_nothing_when_every_page_of_an_imported_file_is_accepted(admin_client):
    from monitoring.publish.draft import replace_draft

    replace_draft(publish.parse_text(IMPORTED))
    admin_client.post(APPLY)
    urls = [reverse("virtualservers:global_settings"), reverse("virtualservers:redundancy")]
    for virtual in VirtualServer.objects.all():
        urls += [
            reverse("virtualservers:virtual_edit", args=[virtual.pk]),
            reverse("virtualservers:monitoring_script", args=[virtual.pk]),
        ]
        urls += [
            reverse("realservers:real_edit", args=[virtual.pk, real.pk])
            for real in virtual.real_servers.all()
        ]
    for url in urls:
        form = admin_client.get(url).context["form"]
        response = admin_client.post(url, accept_data(form))
        assert response.status_code == 302, (url, response.context["form"].errors)
        assert publish.pending_diff() == "", url


def test_diff_rows_are_split_on_newline_only():
    from monitoring.publish.views import diff_lines

    assert diff_lines("--- a\n+++ b\n@@ -1 +1 @@\n-x\u2028y\n+x\x0cz") == [
        ("diff-file", "--- a"),
        ("diff-file", "+++ b"),
        ("diff-hunk", "@@ -1 +1 @@"),
        ("diff-del", "-x\u2028y"),
        ("diff-add", "+x\x0cz"),
    ]


@pytest.mark.parametrize(
    "what, field",
    [("send", "send"), ("expect", "expect"), ("program", "send_program")],
)
def test_blank_buttons_keep_the_other_fields_typed_on_the_page(
    admin_client, virtual, what, field, settings, tmp_path
):
    # Where the typed program lives, installed as the form requires (the tests run as root).
    checks = tmp_path / "checks"
    checks.mkdir(mode=0o755)
    (checks / "check").write_text("#!/bin/sh\necho 200\n")
    (checks / "check").chmod(0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(checks)]
    typed = script_data(
        send_program=f"{checks}/check %h", send="HEAD / HTTP/1.0", expect="200", use_regex="on"
    )
    url = reverse("virtualservers:monitoring_blank", args=[virtual.pk, what])
    response = admin_client.post(url, typed)
    assert response.status_code == 302
    script = MonitoringScript.objects.get()
    saved = {
        "send_program": script.send_program,
        "send": script.send,
        "expect": script.expect,
        "use_regex": script.use_regex,
    }
    blank = "" if field == "send_program" else None
    expected = {
        "send_program": f"{checks}/check %h",
        "send": "HEAD / HTTP/1.0",
        "expect": "200",
        "use_regex": True,
        field: blank,
    }
    assert saved == expected


def test_a_blank_button_with_an_invalid_field_shows_the_error_and_saves_nothing(
    admin_client, virtual
):
    url = reverse("virtualservers:monitoring_blank", args=[virtual.pk, "send"])
    response = admin_client.post(url, script_data(expect='say "hi"'))
    assert response.status_code == 200
    assert "expect" in response.context["form"].errors
    assert response.context["form"]["send"].value() == ""
    script = MonitoringScript.objects.get()
    assert (script.send, script.expect) == ("GET / HTTP/1.0\\r\\n\\r\\n", "HTTP")


def test_a_fresh_install_has_nothing_pending(admin_client):
    html = admin_client.get(CONTROL).content.decode()
    assert "No pending changes" in html
    assert "Pending changes: the draft" not in html


def test_a_fresh_install_has_pending_changes_after_a_global_edit(admin_client):
    GlobalSettings.objects.create(pk=1, primary="192.0.2.1")
    html = admin_client.get(CONTROL).content.decode()
    assert "Pending changes: the draft differs from the published lvs.cf" in html
    assert "+primary = 192.0.2.1" in html


def test_a_restore_message_counts_the_changes_and_lists_only_the_first(admin_client, virtual):
    RealServer.objects.bulk_create(
        RealServer(virtual_server=virtual, name=f"rs{n:03d}", address="192.0.2.1", port=8000 + n)
        for n in range(30)
    )
    admin_client.post(APPLY)
    RealServer.objects.update(weight=5)
    url = reverse("monitoring:revision_restore", args=[1])
    page = admin_client.post(url, follow=True).content.decode()
    assert "real servers changed (30): www/rs000, www/rs001," in page
    assert ", and 20 more" in page
    assert "www/rs029" not in page
