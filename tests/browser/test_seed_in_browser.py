"""A new user builds the seed's configuration in a real browser, tab by tab, and applies it:
one virtual server "mysql" on 192.0.2.240:3306, least-connection, direct routing, two real
servers and the guide's monitoring script."""

import pytest

from tests.browser.conftest import log_in, tab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mysql_mon(settings, tmp_path):
    """The guide's script installed as root would (the tests run as root): the form refuses a
    program that is not there."""
    checks = tmp_path / "checks"
    checks.mkdir(mode=0o755)
    script = checks / "mysql_mon.sh"
    script.write_text("#!/bin/sh\necho UP\n")
    script.chmod(0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(checks)]
    return script


def test_it_builds_the_seed_configuration_from_the_tabs_and_publishes_it(
    live_server, page, screenshot, lvs_cf, piranha, mysql_mon
):
    log_in(page, live_server.url)
    screenshot("01-control-monitoring-empty")

    tab(page, "GLOBAL SETTINGS")
    page.get_by_label("Primary server public IP").fill("192.0.2.1")
    page.get_by_role("button", name="Direct Routing").click()
    page.get_by_role("button", name="ACCEPT").click()
    assert "direct" in page.content().lower()
    screenshot("02-global-settings")

    tab(page, "REDUNDANCY")
    page.get_by_text("Backup:").wait_for()
    screenshot("03-redundancy")

    tab(page, "VIRTUAL SERVERS")
    page.get_by_role("button", name="ADD").click()
    page.get_by_label("Name").fill("mysql")
    page.get_by_label("Application port").fill("3306")
    page.get_by_label("Virtual IP Address").fill("192.0.2.240")
    page.get_by_label("Device").fill("eth0:1")
    page.get_by_label("Scheduling").select_option("lc")
    page.get_by_role("button", name="ACCEPT").click()
    screenshot("05-virtual-server-subtab")

    tab(page, "REAL SERVER")
    for name, address in (("mysql1", "192.0.2.241"), ("mysql2", "192.0.2.242")):
        page.get_by_role("button", name="ADD").click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Address").fill(address)
        page.get_by_label("Weight").fill("1")
        page.get_by_role("button", name="ACCEPT").click()
        page.get_by_role("cell", name=name, exact=True).wait_for()
    for name in ("mysql1", "mysql2"):
        page.get_by_role("row").filter(has_text=name).get_by_role(
            "button", name="(DE)ACTIVATE"
        ).click()
    screenshot("06-real-server-subtab")

    tab(page, "MONITORING SCRIPTS")
    page.get_by_label("Sending Program", exact=True).fill(f"{mysql_mon} %h")
    page.get_by_label("Expect", exact=True).fill("UP")
    page.get_by_label("Treat expect string as a regular expression").check()
    page.get_by_role("button", name="ACCEPT").first.click()
    screenshot("07-monitoring-scripts-subtab")

    tab(page, "VIRTUAL SERVERS")
    page.get_by_role("row").filter(has_text="192.0.2.240").get_by_role(
        "button", name="(DE)ACTIVATE"
    ).click()
    screenshot("04-virtual-servers")

    tab(page, "CONTROL/MONITORING")
    page.get_by_role("button", name="Apply").click()
    screenshot("08-control-monitoring-applied")

    text = lvs_cf.read_text()
    assert "network = direct\n" in text
    assert "primary = 192.0.2.1\n" in text
    block = text[text.index("virtual mysql {") :]
    for line in (
        "     active = 1\n",
        "     address = 192.0.2.240 eth0:1\n",
        "     port = 3306\n",
        f'     send_program = "{mysql_mon} %h"\n',
        '     expect = "UP"\n',
        "     use_regex = 1\n",
        "     scheduler = lc\n",
        "     protocol = tcp\n",
    ):
        assert line in block, (line, block)
    for address in ("192.0.2.241", "192.0.2.242"):
        server = block[block.index(f"address = {address}") :]
        assert server.split("}", 1)[0].count("active = 1") == 1, block
    assert oct(lvs_cf.stat().st_mode & 0o777) == "0o640"


def test_it_shows_a_form_error_next_to_its_field(live_server, page, screenshot, piranha):
    log_in(page, live_server.url)
    tab(page, "VIRTUAL SERVERS")
    page.get_by_role("button", name="ADD").click()
    page.get_by_label("Name").fill("broken")
    page.get_by_label("Virtual IP Address").fill("999.1.1.1")
    page.get_by_role("button", name="ACCEPT").click()
    field = page.get_by_label("Virtual IP Address")
    assert field.get_attribute("aria-invalid") == "true" or "is-invalid" in (
        field.get_attribute("class") or ""
    )
    assert page.get_by_text("“999.1.1.1” is not an IPv4 or IPv6 address.").is_visible()
    screenshot("09-form-error")
