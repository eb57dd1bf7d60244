"""The GUI works with JavaScript turned off (admin workstations and text-mode jump hosts often
have none): add, confirm a delete, activate and Apply are plain forms, and auto update falls back
to a page refresh."""

from collections.abc import Iterator

import pytest

from tests.browser.conftest import chromium, log_in, tab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser_without_js() -> Iterator[object]:
    yield from chromium(java_script_enabled=False)


@pytest.fixture
def plain_page(browser_without_js):
    page = browser_without_js.new_page()
    yield page
    page.context.clear_cookies()
    page.close()


def test_every_state_change_works_without_javascript(live_server, plain_page, lvs_cf, piranha):
    page = plain_page
    log_in(page, live_server.url)

    tab(page, "VIRTUAL SERVERS")
    for name, address in (("keep", "192.0.2.240"), ("gone", "192.0.2.250")):
        page.get_by_role("button", name="ADD").click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Application port").fill("3306")
        page.get_by_label("Virtual IP Address").fill(address)
        page.get_by_label("Device").fill("eth0:1")
        page.get_by_role("button", name="ACCEPT").click()
        tab(page, "VIRTUAL SERVERS")
    page.get_by_role("row").filter(has_text="192.0.2.240").get_by_role(
        "button", name="(DE)ACTIVATE"
    ).click()

    # DELETE asks first, on a page of its own; nothing is gone until that page's button.
    page.get_by_role("row").filter(has_text="192.0.2.250").get_by_role(
        "button", name="DELETE"
    ).click()
    page.get_by_role("heading", name="DELETE VIRTUAL SERVER").wait_for()
    tab(page, "VIRTUAL SERVERS")
    assert page.get_by_role("row").filter(has_text="192.0.2.250").count() == 1
    page.get_by_role("row").filter(has_text="192.0.2.250").get_by_role(
        "button", name="DELETE"
    ).click()
    page.get_by_role("button", name="DELETE").click()
    tab(page, "VIRTUAL SERVERS")
    assert page.get_by_role("row").filter(has_text="192.0.2.250").count() == 0

    tab(page, "CONTROL/MONITORING")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Published lvs.cf serial 1").wait_for()
    text = lvs_cf.read_text()
    assert "virtual keep {" in text and "virtual gone {" not in text
    keep = text[text.index("virtual keep {") :]
    assert "     active = 1\n" in keep.split("}", 1)[0]

    # Auto update without htmx: the page refreshes itself (a <noscript> meta refresh).
    page.get_by_label("Auto update").check()
    page.get_by_label("Update Interval:").fill("5")
    page.get_by_role("button", name="Update information now").click()
    assert '<meta http-equiv="refresh" content="5">' in page.content()
