"""The API's schema browser (Swagger UI, vendored) works in a real browser under our CSP: it
draws the endpoints, with no policy violation and no request leaving this server."""

import pytest

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_shows_the_endpoints_without_a_policy_violation(
    live_server, page, lvs_cf, piranha
):
    problems: list[str] = []
    requested: list[str] = []

    def console(message) -> None:
        # The login page's /favicon.ico: there is none (a 404, not a violation).
        if message.type in ("error", "warning") and "favicon" not in message.location["url"]:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, live_server.url)
    response = page.goto(live_server.url + "/api/schema/browse/")
    assert response is not None and response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.get_by_text("/api/draft/", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.locator(".opblock").count() > 10
    assert problems == [], "\n".join(problems)
    strangers = [url for url in requested if not url.startswith(live_server.url)]
    assert strangers == [], strangers
