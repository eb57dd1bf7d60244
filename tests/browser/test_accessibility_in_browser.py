"""axe-core (npm, pinned in tests/browser/axe, installed by `make test`) over every page, the
Django admin's too, in English and Spanish, as an administrator and as a viewer, in the light
and the dark colour scheme: no serious or critical violation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User

from monitoring.models import AuditEntry
from monitoring.publish.revisions import publish
from realservers.models import RealServer
from tests.browser.conftest import PASSWORD, chromium
from tests.browser.test_spanish_in_browser import LANGUAGES, TABS, log_in, seeded  # noqa: F401
from virtualservers.models import MonitoringScript, Redundancy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VIEWER_PASSWORD = "viewer-Axe-pass-1"
# What this test refuses (axe's own impact levels).
REFUSED = ("serious", "critical")
# What a page shows in each colour scheme: the GUI's Bootstrap 5.3 mode (data-bs-theme) and
# body background; the admin's own theme (Django's data-theme, "auto" follows the browser) and
# its body background (its dark_mode.css).
SCHEMES = {"light": ("light", "rgb(255, 255, 255)"), "dark": ("dark", "rgb(33, 37, 41)")}
ADMIN_SCHEMES = {"light": ("auto", "rgb(255, 255, 255)"), "dark": ("auto", "rgb(18, 18, 18)")}
THEME = "document.documentElement.dataset.bsTheme || document.documentElement.dataset.theme"


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
    context,
    scheme: str,
    url: str,
    username: str,
    password: str,
    language: str,
    pages,
    schemes=SCHEMES,
    login_page: str = "/accounts/login/",
) -> list[str]:
    """axe's findings on `login_page` and on `pages` once logged in (through the GUI's login);
    every page in the colour scheme the browser prefers (`schemes`: its theme attribute, and a
    matching background)."""
    page = context.new_page()
    found: list[str] = []
    try:
        page.goto(url + login_page)
        found += [f"{login_page}: {v}" for v in violations(page)]
        if login_page != "/accounts/login/":
            page.goto(url + "/accounts/login/")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        page.locator("form button[type=submit]").click()
        page.get_by_role("link", name=TABS[language][0], exact=True).wait_for()
        for path in pages:
            if callable(path):  # a page reached by a step (a form posted): it names itself
                path = path(page, url)
            else:
                response = page.goto(url + path)
                assert response.status == 200, (path, response.status)
            theme = page.evaluate(THEME)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (theme, background) == schemes[scheme], path
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


def admin_pages(virtual, role: str) -> list[str | Callable[[object, str], str]]:
    """The admin's index, the changelists with their filters, actions and search, the change
    forms (the virtual server's with its inlines, the singletons'), the trail's list and entry,
    the users', the delete and history pages, and our bulk weight page; a viewer opens what a
    viewer may (their change forms read-only)."""
    real = RealServer.objects.filter(virtual_server=virtual).first()
    script = MonitoringScript.objects.get(virtual_server=virtual)
    entry = AuditEntry.objects.first()
    every_role = [
        "/admin/",
        "/admin/virtualservers/",
        "/admin/virtualservers/virtualserver/",
        "/admin/virtualservers/virtualserver/?active__exact=1&q=mysql",
        f"/admin/virtualservers/virtualserver/{virtual.pk}/change/",
        f"/admin/virtualservers/virtualserver/{virtual.pk}/history/",
        "/admin/realservers/realserver/",
        f"/admin/realservers/realserver/{real.pk}/change/",
        "/admin/virtualservers/globalsettings/1/change/",
        "/admin/virtualservers/redundancy/1/change/",
        "/admin/virtualservers/monitoringscript/",
        f"/admin/virtualservers/monitoringscript/{script.pk}/change/",
        "/admin/virtualservers/failoverservice/",
        "/admin/monitoring/auditentry/",
        f"/admin/monitoring/auditentry/{entry.pk}/change/",
        "/admin/monitoring/revision/",
        "/admin/monitoring/revision/1/change/",
        "/admin/monitoring/realserverhealth/",
        "/admin/monitoring/workerstatus/",
    ]
    if role == "viewer":
        return every_role
    return [
        *every_role,
        "/admin/virtualservers/virtualserver/add/",
        f"/admin/virtualservers/virtualserver/{virtual.pk}/delete/",
        "/admin/virtualservers/failoverservice/add/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        f"/admin/auth/user/{User.objects.get(username='watcher').pk}/change/",
        "/admin/auth/group/",
        f"/admin/auth/group/{Group.objects.get(name='viewer').pk}/change/",
        set_weight_page,
        delete_selected_page,
    ]


def bulk_action(page, url: str, changelist: str, action: str) -> str:
    """Every row of `changelist` selected, `action` chosen: its intermediate page."""
    page.goto(url + changelist)
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option(action)
    page.locator("button[name=index]").click()
    page.wait_for_load_state()
    return f"{changelist} ({action})"


def set_weight_page(page, url: str) -> str:
    """Our own intermediate page: "Set weight of selected"."""
    found = bulk_action(page, url, "/admin/realservers/realserver/", "set_weight")
    page.locator("input[name=weight]").wait_for()
    return found


def delete_selected_page(page, url: str) -> str:
    """Django's bulk delete confirmation, the objects' names as links."""
    found = bulk_action(page, url, "/admin/virtualservers/virtualserver/", "delete_selected")
    page.locator("input[name=post]").wait_for(state="attached")
    return found


def test_no_serious_or_critical_violation_in_the_admin(live_server, run_browser, site):
    role, language, scheme, context = run_browser
    staff = User.objects.filter(username__in=("piranha", "watcher"))
    staff.update(is_staff=True)
    username, password = {
        "administrator": ("piranha", PASSWORD),
        "viewer": ("watcher", VIEWER_PASSWORD),
    }[role]
    found = scan(
        context,
        scheme,
        live_server.url,
        username,
        password,
        language,
        admin_pages(site, role),
        ADMIN_SCHEMES,
        "/admin/login/",
    )
    assert found == [], "\n".join(found)
