"""The pages work under the Content-Security-Policy: no inline script or style is refused."""

import pytest

from realservers.models import RealServer
from tests.browser.conftest import log_in
from virtualservers.models import VirtualServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/?auto_update=1&rate=2",
    "/global/",
    "/redundancy/",
    "/virtual/",
    "/virtual/add/",
    "/admin/",
    "/admin/virtualservers/failoverservice/add/",
]


def test_the_tabs_load_without_a_policy_violation(live_server, page, lvs_cf, piranha):
    virtual = VirtualServer.objects.create(name="web", address="192.0.2.80", port=80)
    RealServer.objects.create(virtual_server=virtual, name="web1", address="192.0.2.81")
    problems: list[str] = []

    def console(message) -> None:
        # The browser asks for /favicon.ico on its own; there is none (a 404, not a violation).
        if message.type in ("error", "warning") and "favicon" not in message.location["url"]:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, live_server.url)
    pages = [*PAGES, f"/virtual/{virtual.pk}/"]
    for path in pages:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    # htmx's auto-update: a swap under the policy, with no eval and no injected style.
    page.goto(live_server.url + "/?auto_update=1&rate=2")
    page.wait_for_timeout(2500)
    assert problems == [], "\n".join(problems)
