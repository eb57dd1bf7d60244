"""MONITORING SCRIPTS offers the HTTP, HTTPS and TLS checks, fall/rise and slow start; errors
name their field; what it saves reaches lvs.cf as lvsadmin's own keys, and only when set."""

import pytest
from django.urls import reverse

from monitoring.publish.draft import draft_config, replace_draft
from monitoring.publish.revisions import publish
from tests.monitoring.publish.test_control_views import script_data
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    return settings.LVSADMIN_LVS_CF


@pytest.fixture
def virtual():
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100", port=443, active=True)
    MonitoringScript.objects.create(virtual_server=virtual)
    return virtual


def post(client, virtual, **changes):
    changes.setdefault("slow_start", "on")  # the checkboxes a browser sends as they are shown
    changes.setdefault("path_check", "on")
    url = reverse("virtualservers:monitoring_script", args=[virtual.pk])
    return client.post(url, script_data(**changes))


def rendered_virtual() -> str:
    text = render(draft_config())
    return text[text.index("virtual www {") :]


def test_the_page_offers_the_check_types_and_their_fields(admin_client, virtual):
    html = admin_client.get(
        reverse("virtualservers:monitoring_script", args=[virtual.pk])
    ).content.decode()
    for text in (
        'value="http"', 'value="https"', 'value="tls"', "HTTP / HTTPS / TLS CHECK",
        "Expected status codes", "Host header", "Verify the certificate", "SNI name",
        "FALL / RISE / SLOW START", "Fall", "Rise", "Slow start",
    ):  # fmt: skip
        assert text in html, text
    assert (
        'name="slow_start" checked' in html
        or 'checked name="slow_start"' in html
        or ('id="id_slow_start" checked' in html)
    )


def test_an_https_check_is_saved_and_written_to_lvs_cf(admin_client, virtual):
    response = post(
        admin_client, virtual, kind="https", http_path="/health", http_host="www.example.test",
        http_status="200-299,301", http_body="ok", tls_verify="on", tls_sni="www.example.test",
        fall="3", rise="2",
    )  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    text = rendered_virtual()
    for line in (
        "     fall = 3", "     rise = 2", "     check = https", "     http_path = /health",
        "     http_host = www.example.test", "     http_status = 200-299,301",
        '     http_body = "ok"', "     tls_verify = 1", "     tls_sni = www.example.test",
    ):  # fmt: skip
        assert line + "\n" in text, line
    assert "slow_start" not in text and "http_body_regex" not in text
    config, _warnings = parse(render(draft_config()))
    assert config.virtuals[0].check == "https"


def test_accepting_the_defaults_adds_none_of_lvsadmins_keys(admin_client, virtual):
    before = rendered_virtual()
    assert post(admin_client, virtual).status_code == 302
    after = rendered_virtual()
    assert after == before
    for word in ("fall", "rise", "slow_start", "check", "http_", "tls_"):
        assert word not in after


def test_the_path_check_is_offered_ticked_and_says_a_sending_program_cannot_use_it(
    admin_client, virtual
):
    html = admin_client.get(
        reverse("virtualservers:monitoring_script", args=[virtual.pk])
    ).content.decode()
    assert "Check through the forwarding path" in html
    assert 'name="path_check" checked' in html or 'id="id_path_check" checked' in html
    assert "Not for a sending program" in html


def test_unticking_the_path_check_writes_path_check_0_and_ticking_it_again_removes_it(
    admin_client, virtual
):
    assert post(admin_client, virtual, path_check="").status_code == 302
    assert "     path_check = 0\n" in rendered_virtual()
    config, _warnings = parse(render(draft_config()))
    assert config.virtuals[0].effective_path_check is False
    assert post(admin_client, virtual, path_check="on").status_code == 302
    assert MonitoringScript.objects.get().path_check is True
    assert "     path_check = 1\n" in rendered_virtual()


def test_unticking_slow_start_writes_slow_start_0(admin_client, virtual):
    assert post(admin_client, virtual, slow_start="").status_code == 302
    assert "     slow_start = 0\n" in rendered_virtual()


def test_http_keys_stay_out_of_lvs_cf_unless_the_check_uses_them(admin_client, virtual):
    assert post(admin_client, virtual, kind="nanny", http_path="/health").status_code == 302
    assert MonitoringScript.objects.get().http_path == "/health"  # kept for a later switch
    assert "http_path" not in rendered_virtual()


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"kind": "http", "http_status": "2xx"}, "http_status", "Status codes and ranges"),
        ({"kind": "http", "http_status": "600"}, "http_status", "100-599"),
        ({"kind": "http", "http_path": "health"}, "http_path", "starts with /"),
        ({"kind": "http", "http_path": "/a b"}, "http_path", "blanks"),
        ({"kind": "http", "http_host": "bad host"}, "http_host", "not a host name"),
        ({"kind": "http", "http_host": "www.example.test:99999"}, "http_host", "1-65535"),
        ({"kind": "https", "tls_sni": "-x-"}, "tls_sni", "not a host name"),
        ({"kind": "https", "tls_ca": "/etc/ca.pem"}, "tls_ca", "tick Verify"),
        ({"kind": "https", "tls_ca": "ca.pem", "tls_verify": "on"}, "tls_ca", "absolute path"),
        ({"kind": "http", "http_body": "(a)\\1", "http_body_regex": "on"}, "http_body", "backreferences"),
        ({"fall": "0"}, "fall", "greater than or equal to 1"),
        ({"rise": "1001"}, "rise", "less than or equal to 1000"),
    ],
)  # fmt: skip
def test_a_bad_value_is_an_error_on_its_field_and_nothing_is_saved(
    admin_client, virtual, changes, field, words
):
    response = post(admin_client, virtual, **changes)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert words in errors, response.context["form"].errors
    assert MonitoringScript.objects.get().kind == "nanny"


def test_an_http_check_on_a_udp_virtual_is_refused_on_the_check_field(admin_client, virtual):
    VirtualServer.objects.filter(pk=virtual.pk).update(protocol="udp")
    virtual.refresh_from_db()
    response = post(admin_client, virtual, kind="http")
    assert "need a TCP virtual server" in " ".join(response.context["form"].errors["kind"])


def test_an_imported_file_keeps_its_checks_through_the_draft_and_publish(admin_client):
    text = """network = direct
virtual web {
     active = 1
     address = 192.0.2.100 eth0:1
     port = 80
     fall = 2
     slow_start = 1
     check = http
     http_method = HEAD
     http_path = /ping
     http_body_regex = 0
     server a {
         address = 192.0.2.21
         active = 1
     }
}
"""
    config, _warnings = parse(text)
    replace_draft(config)
    script = MonitoringScript.objects.get()
    assert (script.kind, script.fall, script.slow_start, script.http_method) == (
        "http",
        2,
        True,
        "HEAD",
    )
    revision = publish(None)
    published, _warnings = parse(revision.text)
    virtual = published.virtuals[0]
    assert (virtual.check, virtual.http_path, virtual.slow_start, virtual.http_body_regex) == (
        "http",
        "/ping",
        True,
        False,
    )
    # Opening the page and accepting it changes nothing in the file.
    page = admin_client.get(
        reverse("virtualservers:monitoring_script", args=[script.virtual_server_id])
    )
    form = page.context["form"]
    data = {
        name: ("on" if value is True else "" if value in (None, False) else value)
        for name, value in ((n, form[n].value()) for n in form.fields)
    }
    url = reverse("virtualservers:monitoring_script", args=[script.virtual_server_id])
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert render(draft_config(serial_no=revision.serial_no)) == revision.text


def installed_program(settings, tmp_path) -> str:
    """A check program installed as the form requires (the tests run as root)."""
    checks = tmp_path / "checks"
    checks.mkdir(mode=0o755)
    (checks / "check").write_text("#!/bin/sh\necho OK\n")
    (checks / "check").chmod(0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(checks)]
    return f"{checks}/check %h"


def test_the_prefilled_send_is_not_written_beside_a_sending_program(
    admin_client, virtual, settings, tmp_path
):
    program = installed_program(settings, tmp_path)
    response = post(admin_client, virtual, send_program=program, expect="OK")
    assert response.status_code == 302, response.context["form"].errors
    text = rendered_virtual()
    assert f'send_program = "{program}"\n' in text
    assert "send =" not in text
    assert '     expect = "OK"\n' in text


def test_a_send_typed_beside_a_sending_program_is_kept(admin_client, virtual, settings, tmp_path):
    program = installed_program(settings, tmp_path)
    post(admin_client, virtual, send_program=program, send="PING\\r\\n", expect="OK")
    assert '     send = "PING\\r\\n"\n' in rendered_virtual()


def test_the_check_sections_name_the_checks_they_serve(admin_client, virtual):
    html = admin_client.get(
        reverse("virtualservers:monitoring_script", args=[virtual.pk])
    ).content.decode()
    assert 'data-lvs-kinds="nanny"' in html and 'data-lvs-kinds="mysql"' in html
    assert 'data-lvs-kinds="http https tls"' in html
    assert "/static/lvsadmin/check-kind.js" in html
