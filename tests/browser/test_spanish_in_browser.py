"""Both languages in a real browser: every tab and subtab photographed in English and in Spanish
(Chromium asking for each through its locale, i.e. Accept-Language), and the Spanish labels fit a
1280 px window: no tab, link or button wider than its box, the main tabs on one line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from monitoring.models import AuditEntry
from monitoring.publish.revisions import publish
from realservers.models import RealServer
from tests.browser.conftest import PASSWORD, chromium
from tests.browser.test_layout_in_browser import seed_live_table
from virtualservers.models import MonitoringScript, Redundancy, VirtualServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = {"en": "en-US", "es": "es-ES"}
TABS = {
    "en": ["CONTROL/MONITORING", "GLOBAL SETTINGS", "REDUNDANCY", "VIRTUAL SERVERS"],
    "es": ["CONTROL/MONITORIZACIÓN", "CONFIGURACIÓN GLOBAL", "REDUNDANCIA", "SERVIDORES VIRTUALES"],
}
SUBTABS = {
    "en": ["VIRTUAL SERVER", "REAL SERVER", "MONITORING SCRIPTS"],
    "es": ["SERVIDOR VIRTUAL", "SERVIDOR REAL", "SCRIPTS DE MONITORIZACIÓN"],
}


@pytest.fixture(scope="module", params=list(LANGUAGES))
def language_browser(request) -> Iterator[tuple[str, object]]:
    for context in chromium(locale=LANGUAGES[request.param]):
        yield request.param, context


@pytest.fixture
def seeded(piranha, lvs_cf) -> VirtualServer:
    """The guide's balancer: a MySQL virtual server with two real servers, and a live table."""
    virtual = VirtualServer.objects.create(
        name="mysql", address="192.0.2.240", port=3306, device="eth0:1", scheduler="lc"
    )
    MonitoringScript.objects.create(virtual_server=virtual)
    for name, address in (("mysql1", "192.0.2.241"), ("mysql2", "192.0.2.242")):
        RealServer.objects.create(virtual_server=virtual, name=name, address=address)
    seed_live_table()
    # Published (a revision page to show), and the backup enabled: REDUNDANCY shows its fields.
    publish(User.objects.get(username="piranha"))
    Redundancy.objects.update_or_create(pk=1, defaults={"backup_active": True})
    return virtual


def pages(virtual: VirtualServer) -> list[tuple[str, str]]:
    """Every tab and subtab, the pages reached from CONTROL and the banner, and the add, edit,
    delete and revision pages."""
    real = virtual.real_servers.first()
    return [
        ("01-control-monitoring", "/"),
        ("02-global-settings", "/global/"),
        ("03-redundancy", "/redundancy/"),
        ("04-virtual-servers", "/virtual/"),
        ("05-virtual-server-subtab", f"/virtual/{virtual.pk}/"),
        ("06-real-server-subtab", f"/virtual/{virtual.pk}/real/"),
        ("07-monitoring-scripts-subtab", f"/virtual/{virtual.pk}/monitoring/"),
        ("08-real-server-set-up", f"/virtual/{virtual.pk}/real/setup/"),
        ("09-audit", "/audit/"),
        ("10-notifications", "/notifications/"),
        ("11-password-and-language", "/accounts/password/change/"),
        ("13-add-virtual-server", "/virtual/add/"),
        ("14-edit-real-server", f"/virtual/{virtual.pk}/real/{real.pk}/"),
        ("15-add-real-server", f"/virtual/{virtual.pk}/real/add/"),
        ("16-delete-virtual-server", f"/virtual/{virtual.pk}/delete/"),
        ("17-revision", "/revisions/1/"),
    ]


def log_in(page, url: str, language: str) -> None:
    page.goto(url + "/accounts/login/")
    page.locator("input[name=username]").fill("piranha")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.get_by_role("link", name=TABS[language][0], exact=True).wait_for()


def overflowing(page) -> list[str]:
    """Tabs, links and buttons whose text is wider than their box, and the page if it is wider
    than the window."""
    return page.evaluate(
        """() => {
        const found = [];
        const boxes = document.querySelectorAll(
            "nav, nav a, .nav-link, button, .btn, input[type=submit], .lvs-section, th, label, " +
            ".table-responsive");
        for (const el of boxes) {
            if (el.offsetParent === null) continue;  // not shown (a closed <details>)
            if (el.closest(".visually-hidden")) continue;  // for screen readers: a 1 px box
            if (el.scrollWidth > el.clientWidth + 1)
                found.push(`${el.tagName} "${el.innerText.trim()}" ${el.scrollWidth}>${el.clientWidth}`);
        }
        const doc = document.documentElement;
        if (doc.scrollWidth > window.innerWidth)
            found.push(`page ${doc.scrollWidth} px wide`);
        return found;
    }"""
    )


def test_every_tab_in_both_languages(live_server, language_browser, seeded, request):
    from tests.browser.conftest import SCREENSHOTS

    language, context = language_browser
    page = context.new_page()
    changes_before = AuditEntry.objects.filter(action="change").count()
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.goto(live_server.url + "/accounts/login/")
        assert page.locator("html").get_attribute("lang") == language
        page.screenshot(path=str(SCREENSHOTS / f"i18n-{language}-00-login.png"), full_page=True)
        log_in(page, live_server.url, language)
        for name, path in pages(seeded):
            response = page.goto(live_server.url + path)
            assert response.status == 200, (path, response.status)
            assert page.locator("html").get_attribute("lang") == language
            for tab in TABS[language]:
                assert page.get_by_role("link", name=tab, exact=True).count() == 1, (path, tab)
            if "subtab" in name:
                for subtab in SUBTABS[language]:
                    assert page.get_by_role("link", name=subtab, exact=True).count() == 1
            page.screenshot(path=str(SCREENSHOTS / f"i18n-{language}-{name}.png"), full_page=True)
        # A validation message names its field in the page's language.
        page.goto(live_server.url + f"/virtual/{seeded.pk}/")
        page.locator("input[name=address]").fill("not-an-ip")
        accept = {"en": "ACCEPT", "es": "ACEPTAR"}[language]
        page.get_by_role("button", name=accept, exact=True).click()
        error = {
            "en": "“not-an-ip” is not an IPv4 or IPv6 address.",
            "es": "«not-an-ip» no es una dirección IPv4 ni IPv6.",
        }[language]
        page.get_by_text(error).wait_for()
        page.screenshot(
            path=str(SCREENSHOTS / f"i18n-{language}-12-validation-message.png"), full_page=True
        )
        assert AuditEntry.objects.filter(action="change").count() == changes_before
    finally:
        page.context.clear_cookies()
        page.close()


@pytest.mark.parametrize("language_browser", ["es"], indirect=True)
def test_no_spanish_label_overflows_at_1280_px(live_server, language_browser, seeded):
    language, context = language_browser
    page = context.new_page()
    try:
        page.goto(live_server.url + "/accounts/login/")
        assert overflowing(page) == [], "/accounts/login/"
        log_in(page, live_server.url, language)
        assert page.viewport_size["width"] == 1280
        for _name, path in pages(seeded):
            page.goto(live_server.url + path)
            # The forms' Advanced sections: their labels too. (Not the live table's Hold…
            # menus: opened one at a time, they widen their row in either language.)
            for details in page.locator("details:not(.lvs-hold)").all():
                details.evaluate("d => d.open = true")
            assert overflowing(page) == [], path
            tops = page.locator("nav .lvs-tabs .nav-link").evaluate_all(
                "links => links.map(l => Math.round(l.getBoundingClientRect().top))"
            )
            assert len(set(tops)) == 1, f"{path}: the main tabs wrap onto {len(set(tops))} lines"
    finally:
        page.context.clear_cookies()
        page.close()
