"""Login and logout, and the lockout's glue to django-axes.

django-axes keeps the count and refuses a locked-out client at the authentication backend, so
every login path (this page, /admin/login/, anything that calls authenticate()) shares one
lockout, and a locked-out attempt is refused before any password is hashed. Failures count per
account and per client address separately (LVSADMIN_LOGIN_MAX_FAILURES within
LVSADMIN_LOGIN_LOCKOUT_SECONDS, each); the address is the one the allowlist middleware resolved.

axes checks the count, then the password is checked, then the failure is counted: three steps, so
parallel attempts all pass the check before any is counted. LoginSerializerMiddleware makes the
three one critical section.

The Password page's old password is a login attempt of its account too (OldPasswordForm): a
session that guesses it is counted and locked out as a login is, so a stolen session cannot try
passwords without limit.
"""

from __future__ import annotations

import fcntl
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import authenticate, views
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import connection
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


# A login waits at most this long for the ones before it (each holds the lock for one password
# hash, about a second): past it, something is stuck and the attempt fails instead of hanging.
LOGIN_LOCK_WAIT_SECONDS = 120


@contextmanager
def login_lock() -> Iterator[None]:
    """One login attempt at a time among all the web processes that share this database.

    The counts live in the database, so the lock must be as wide as the database: on MySQL or
    MariaDB, which two directors can share, a named lock of the server (GET_LOCK); on SQLite,
    which is one file on one host, a file lock beside that file. A lock in each director's state
    directory let two directors check the same count at once, and let more attempts than the
    limit reach the password check.

    Neither is a lock in a transaction: a password hash takes about a second, and SQLite's write
    lock held that long starved the other gunicorn worker's writes (they wait for it by polling,
    unfairly, and gave up with "database is locked" under twenty logging-in clients); a row lock
    held that long would block every other write to that row. A waiting GET_LOCK or flock() wakes
    as soon as the holder lets go.
    """
    if connection.vendor == "mysql":
        with _server_lock(f"lvsadmin.login.{connection.settings_dict['NAME']}"[:64]):
            yield
    else:
        with _file_lock(Path(f"{connection.settings_dict['NAME']}.login-lock")):
            yield


@contextmanager
def _server_lock(name: str) -> Iterator[None]:
    """A MySQL/MariaDB named lock, held by this thread's connection (released by the server if
    the connection dies)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, LOGIN_LOCK_WAIT_SECONDS])
        if cursor.fetchone()[0] != 1:
            raise TimeoutError(f"login lock {name!r} not granted in {LOGIN_LOCK_WAIT_SECONDS} s")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [name])


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LoginSerializerMiddleware:
    """Runs each POST to a login page inside login_lock(), so that the lockout check, the password
    check and the failure count of one attempt are not interleaved with another's, on this
    director or another one sharing the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in (
            reverse("login"),
            reverse("admin:login"),
            reverse("password_change"),
        ):
            with login_lock():
                return self.get_response(request)
        return self.get_response(request)


class LoginView(views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(views.LogoutView):
    http_method_names = ["post", "options"]


class OldPasswordForm(PasswordChangeForm):
    """Django's password change, whose old password is checked as a login of the account
    (authenticate(), through axes): a wrong one is a failed login of that account and address,
    and a locked-out account or address is refused before the password is hashed (the view then
    answers with the lockout page). The stock form's check_password() let a session guess
    without limit: eight wrong, then the right one accepted."""

    def __init__(self, user, *args, request: HttpRequest, **kwargs) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        found = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if found is None or found.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password
