"""axe-core (npm, pinned in tests/browser/axe, installed by `make test`) over every page, in
English and Spanish, as an administrator and as a viewer, in the light and the dark colour
scheme: no serious or critical violation."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User

from monitoring.publish.revisions import publish
from realservers.models import RealServer
from tests.browser.conftest import PASSWORD, chromium
from tests.browser.test_spanish_in_browser import LANGUAGES, TABS, log_in, seeded  # noqa: F401
from virtualservers.models import Redundancy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VIEWER_PASSWORD = "viewer-Axe-pass-1"
# What this test refuses (axe's own impact levels).
REFUSED = ("serious", "critical")
# Bootstrap 5.3's body background in each colour mode.
SCHEMES = {"light": ("light", "rgb(255, 255, 255)"), "dark": ("dark", "rgb(33, 37, 41)")}


# Who, in which language and colour scheme. The viewer's pages differ from the administrator's
# by their buttons and disabled fields, not by their colours: one scheme is enough for them
# (each run is about 35 s on the 2-core machine).
RUNS = [
    *(
        ("administrator", language, scheme)
        for language in LANGUAGES
        for scheme in ("light", "dark")
    ),
    *(("viewer", language, "light") for language in LANGUAGES),
]


# One browser at a time (Playwright's sync API cannot run two): module scope, one per run.
@pytest.fixture(scope="module", params=RUNS, ids=lambda run: "-".join(run))
def run_browser(request) -> Iterator[tuple[str, str, str, object]]:
    role, language, scheme = request.param
    for context in chromium(locale=LANGUAGES[language], color_scheme=scheme):
        yield role, language, scheme, context


def every_page(virtual) -> list[str]:
    real = RealServer.objects.filter(virtual_server=virtual).first()
    return [
        "/",
        "/global/",
        "/redundancy/",
        "/virtual/",
        "/virtual/add/",
        f"/virtual/{virtual.pk}/",
        f"/virtual/{virtual.pk}/delete/",
        f"/virtual/{virtual.pk}/real/",
        f"/virtual/{virtual.pk}/real/add/",
        f"/virtual/{virtual.pk}/real/{real.pk}/",
        f"/virtual/{virtual.pk}/real/{real.pk}/delete/",
        f"/virtual/{virtual.pk}/real/setup/",
        f"/virtual/{virtual.pk}/real/{real.pk}/setup/",
        f"/virtual/{virtual.pk}/monitoring/",
        "/revisions/1/",
        "/audit/",
        "/notifications/",
        "/accounts/password/change/",
    ]


def violations(page) -> list[str]:
    """axe's serious and critical violations on the page, one line each."""
    page.evaluate(AXE.read_text())
    return page.evaluate(
        """async (refused) => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.filter(v => refused.includes(v.impact)).flatMap(v =>
            v.nodes.map(n => `${v.id} (${v.impact}): ${n.target.join(" ")}: ${n.failureSummary}`));
    }""",
        list(REFUSED),
    )


def scan(
    context, scheme: str, url: str, username: str, password: str, language: str, pages
) -> list[str]:
    """axe's findings on the login page and on `pages` once logged in; every page in the
    colour scheme the browser prefers (Bootstrap's data-bs-theme, and a matching background)."""
    page = context.new_page()
    found: list[str] = []
    try:
        page.goto(url + "/accounts/login/")
        found += [f"/accounts/login/: {v}" for v in violations(page)]
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        page.locator("form button[type=submit]").click()
        page.get_by_role("link", name=TABS[language][0], exact=True).wait_for()
        for path in pages:
            response = page.goto(url + path)
            assert response.status == 200, (path, response.status)
            theme = page.evaluate("document.documentElement.dataset.bsTheme")
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (theme, background) == SCHEMES[scheme], path
            for details in page.locator("details").all():
                details.evaluate("d => d.open = true")  # their contents are checked too
            found += [f"{path}: {v}" for v in violations(page)]
    finally:
        page.context.clear_cookies()
        page.close()
    return found


@pytest.fixture
def site(seeded):  # noqa: F811
    """The guide's balancer published, the backup enabled (REDUNDANCY's fields on the page), and
    a viewer."""
    assert AXE.exists(), f"{AXE} is missing: `make test` installs it (npm ci in tests/browser/axe)"
    publish(User.objects.get(username="piranha"))
    Redundancy.objects.update_or_create(pk=1, defaults={"backup_active": True})
    make_groups = import_module("monitoring.migrations.0008_roles_groups").make_groups
    make_groups(django_apps, None)
    viewer = User.objects.create_user("watcher", password=VIEWER_PASSWORD)
    viewer.groups.add(Group.objects.get(name="viewer"))
    return seeded


def test_no_serious_or_critical_violation_on_any_page(live_server, run_browser, site):
    role, language, scheme, context = run_browser
    username, password = {
        "administrator": ("piranha", PASSWORD),
        "viewer": ("watcher", VIEWER_PASSWORD),
    }[role]
    found = scan(context, scheme, live_server.url, username, password, language, every_page(site))
    assert found == [], "\n".join(found)
