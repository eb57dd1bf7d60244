"""The notifications page (under CONTROL/MONITORING): who is told about state changes, and a
button that sends a test message through every configured channel."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from monitoring.models import NotificationSettings
from monitoring.notify.delivery import channels_for, director_name, send_test
from monitoring.notify.forms import NotificationSettingsForm
from monitoring.publish import audit
from virtualservers.tabs import render_tab, requires

CHANGE_NOTIFICATIONS = "monitoring.change_notificationsettings"


@require_http_methods(["GET", "POST"])
@requires(CHANGE_NOTIFICATIONS)
def notifications(request: HttpRequest) -> HttpResponse:
    """Not part of the draft: saved here, in effect on the worker's next poll (no Apply)."""
    config = NotificationSettings.load()
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST, instance=config)
        if form.is_valid():
            form.save()
            messages.success(
                request, _("Notification settings saved; the worker uses them within a second.")
            )
            return redirect("monitoring:notifications")
    else:
        form = NotificationSettingsForm(instance=config)
    return render_tab(
        request,
        "monitoring/notifications.html",
        "control",
        {
            "form": form,
            "channels": [c.name for c in channels_for(config)],
            "director": director_name(),
            "email_backend": settings.EMAIL_BACKEND,
            "email_server": f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}",
            "default_sender": settings.DEFAULT_FROM_EMAIL,
        },
    )


@require_POST
@requires(CHANGE_NOTIFICATIONS)
def notifications_test(request: HttpRequest) -> HttpResponse:
    """Sends now, from the web process, with what is saved (a webhook gets one attempt)."""
    outcomes = send_test(NotificationSettings.load())
    if not outcomes:
        messages.warning(request, _("Nothing to test: no channel is configured."))
    for outcome in outcomes:
        text = f"{outcome.channel}: {outcome.detail}"
        (messages.success if outcome.ok else messages.error)(request, text)
    audit.record(
        "test message",
        "notification settings",
        summary="; ".join(
            f"{o.channel}: {'ok' if o.ok else 'failed'}, {o.detail}" for o in outcomes
        ),
    )
    return redirect("monitoring:notifications")
