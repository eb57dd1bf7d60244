"""Login and logout, and the lockout's glue to django-axes.

django-axes keeps the count and refuses a locked-out client at the authentication backend, so
every login path (this page, /admin/login/, anything that calls authenticate()) shares one
lockout, and a locked-out attempt is refused before any password is hashed. Failures count per
account and per client address separately (LVSADMIN_LOGIN_MAX_FAILURES within
LVSADMIN_LOGIN_LOCKOUT_SECONDS, each); the address is the one the allowlist middleware resolved.

axes checks the count, then the password is checked, then the failure is counted: three steps, so
parallel attempts all pass the check before any is counted. LoginSerializerMiddleware makes the
three one critical section.
"""

from __future__ import annotations

import fcntl
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import views
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse

LOCKED_STATUS = 429


def client_ip(request: HttpRequest) -> str:
    return getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR", "")


def failure_limit(request: HttpRequest | None, credentials: dict | None) -> int:
    return settings.LVSADMIN_LOGIN_MAX_FAILURES


def lockout_time(request: HttpRequest | None) -> timedelta:
    return timedelta(seconds=settings.LVSADMIN_LOGIN_LOCKOUT_SECONDS)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The same page, byte for byte, whatever was typed: no form, nothing from the request, so a
    locked-out client learns nothing about the password it tried."""
    minutes = max(1, math.ceil(settings.LVSADMIN_LOGIN_LOCKOUT_SECONDS / 60))
    body = render_to_string(
        "registration/locked_out.html", {"minutes": minutes, "login_url": reverse("login")}
    )
    return HttpResponse(body, status=LOCKED_STATUS)


@contextmanager
def login_lock() -> Iterator[None]:
    """One login attempt at a time among this director's web processes.

    A file lock, not the database's: a password hash takes about a second, and SQLite's write
    lock held that long starved the other gunicorn worker's writes (they wait for it by polling,
    unfairly, and gave up with "database is locked" under twenty logging-in clients). A blocked
    flock() wakes as soon as the holder lets go, and never touches the database.
    """
    path = Path(settings.STATE_DIR) / "login.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LoginSerializerMiddleware:
    """Runs each POST to a login page inside login_lock(), so that the lockout check, the password
    check and the failure count of one attempt are not interleaved with another's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in (reverse("login"), reverse("admin:login")):
            with login_lock():
                return self.get_response(request)
        return self.get_response(request)


class LoginView(views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(views.LogoutView):
    http_method_names = ["post", "options"]
