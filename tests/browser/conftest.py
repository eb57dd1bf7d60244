"""Playwright driving Debian's Chromium (/usr/bin/chromium, installed by `make test`) against
pytest-django's live server. No browser download: Playwright's own builds cannot be fetched here."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API keeps an event loop running in the main thread; Django would refuse
# database access there (its async guard) although the calls are plain synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Without the background-networking flags Chromium keeps dialling out of this closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(**options) -> Iterator[object]:
    """Debian's Chromium in a throw-away profile; `options` go to Playwright's context."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
            **options,
        )
        yield context
        context.close()


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it is
# open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from chromium()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.context.clear_cookies()
    page.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


# --- a new installation's user, for the tests that build and apply a configuration ----------

PASSWORD = "seed-Browser-pass-1"


@pytest.fixture
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "ha" / "lvs.cf"
    return settings.LVSADMIN_LVS_CF


@pytest.fixture
def piranha(monkeypatch):
    # As a new installation: the password set with lvspasswd, nothing else.
    class Stdin(io.StringIO):
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Stdin(PASSWORD + "\n"))
    call_command("lvspasswd", stdout=io.StringIO())


def log_in(page, url: str) -> None:
    page.goto(url + "/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("piranha")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="CONTROL/MONITORING").wait_for()


def tab(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).click()
