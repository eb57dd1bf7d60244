"""Login with a lockout per client IP, and a POST-only logout.

After LVSADMIN_LOGIN_MAX_FAILURES failed attempts from one client address within
LVSADMIN_LOGIN_LOCKOUT_SECONDS, that address is refused (even with the right password) until the
lock expires; a successful login clears its count. Keyed by the address the allowlist resolved.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from lvsadmin.models import LoginFailure


def client_ip(request: HttpRequest) -> str:
    return getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR", "")


def locked_for(ip: str) -> int:
    """Seconds left on this address's lock, 0 when it may try."""
    row = LoginFailure.objects.filter(client_ip=ip).first()
    if row is None or row.locked_until is None:
        return 0
    left = (row.locked_until - timezone.now()).total_seconds()
    return max(0, math.ceil(left))


@transaction.atomic
def record_failure(ip: str) -> None:
    now = timezone.now()
    window = timedelta(seconds=settings.LVSADMIN_LOGIN_LOCKOUT_SECONDS)
    row, _created = LoginFailure.objects.select_for_update().get_or_create(
        client_ip=ip, defaults={"first_failure": now}
    )
    if now - row.first_failure > window or (row.locked_until and row.locked_until <= now):
        row.failures, row.first_failure, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= settings.LVSADMIN_LOGIN_MAX_FAILURES:
        row.locked_until = now + window
    row.save()


def clear_failures(ip: str) -> None:
    LoginFailure.objects.filter(client_ip=ip).delete()


class LoginView(views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        ip = client_ip(request)
        seconds = locked_for(ip)
        if seconds:
            form = self.get_form()
            minutes = max(1, math.ceil(seconds / 60))
            form.add_error(
                None,
                f"Too many failed logins from your address; try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        record_failure(client_ip(self.request))
        return super().form_invalid(form)

    def form_valid(self, form):
        clear_failures(client_ip(self.request))
        return super().form_valid(form)


class LogoutView(views.LogoutView):
    http_method_names = ["post", "options"]
