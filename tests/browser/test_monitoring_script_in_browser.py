"""MONITORING SCRIPTS in a real browser: only the sections of the chosen check are shown (an
external script, under the Content-Security-Policy), so the page is as long as that check."""

import pytest

from tests.browser.conftest import log_in
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECTIONS = {
    "nanny": "SEND / EXPECT (as nanny)",
    "mysql": "BUILT-IN MYSQL CHECK",
    "web": "HTTP / HTTPS / TLS CHECK",
}
SHOWN = {
    "nanny": {"nanny"},
    "tcp": set(),
    "mysql": {"mysql"},
    "http": {"web"},
    "https": {"web"},
    "tls": {"web"},
}


def test_only_the_chosen_checks_fields_are_shown(live_server, page, lvs_cf, piranha):
    virtual = VirtualServer.objects.create(name="db", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(virtual_server=virtual)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/virtual/{virtual.pk}/monitoring/")
    every_section = page.evaluate(
        "() => { for (const s of document.querySelectorAll('[data-lvs-kinds]')) s.hidden = false;"
        " return document.documentElement.scrollHeight; }"
    )
    for kind, shown in SHOWN.items():
        page.locator("#id_kind").select_option(kind)
        for name, title in SECTIONS.items():
            visible = page.get_by_text(title, exact=True).is_visible()
            assert visible == (name in shown), (kind, name)
        # Fall / rise / slow start serve every check.
        assert page.get_by_text("FALL / RISE / SLOW START", exact=True).is_visible()
        height = page.evaluate("() => document.documentElement.scrollHeight")
        assert height < every_section, (kind, height, every_section)
    # The chosen check is saved with its own fields.
    page.locator("#id_kind").select_option("mysql")
    page.locator("#id_mysql_user").fill("lvsmon")
    page.get_by_role("button", name="ACCEPT", exact=True).click()
    page.get_by_text("Monitoring script of db accepted.").wait_for()
    assert page.get_by_text(SECTIONS["nanny"], exact=True).is_hidden()
    assert MonitoringScript.objects.get().mysql_user == "lvsmon"
    assert problems == []
