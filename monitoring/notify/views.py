"""The notifications page (under CONTROL/MONITORING): who is told about state changes, and a
button that sends a test message through every configured channel."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from monitoring.models import NotificationSettings
from monitoring.notify.delivery import channels_for, director_name, send_test
from monitoring.notify.forms import NotificationSettingsForm
from monitoring.publish import audit
from virtualservers.i18n import Wording
from virtualservers.tabs import render_tab, requires

# The channels (monitoring/notify/channels.py, Django-free) say how a test went in English, as the
# audit trail records it; the page shows their words in the reader's language.
CHANNEL_WORDS = Wording(
    [
        gettext_noop("e-mail"),
        gettext_noop("webhook"),
        gettext_noop("program"),
        gettext_noop("no program is configured"),
    ],
    [
        (r"^sent to (?P<to>.*)$", gettext_noop("sent to %(to)s")),
        (r"^ran 1 time, exit status 0$", gettext_noop("ran once, exit status 0")),
        (
            r"^ran (?P<count>\d+) times, exit status 0$",
            gettext_noop("ran %(count)s times, exit status 0"),
        ),
        (
            r"^ran 1 time, 1 failed: (?P<error>.*)$",
            gettext_noop("ran once, failed: %(error)s"),
        ),
        (
            r"^ran (?P<count>\d+) times, (?P<failed>\d+) failed: (?P<error>.*)$",
            gettext_noop("ran %(count)s times, %(failed)s failed: %(error)s"),
        ),
        (
            r"^(?P<error>.*) \((?P<count>\d+) attempts?\)$",
            gettext_noop("%(error)s (attempts: %(count)s)"),
        ),
    ],
)

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
            "channels": [CHANNEL_WORDS.shown(c.name) for c in channels_for(config)],
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
        text = f"{CHANNEL_WORDS.shown(outcome.channel)}: {CHANNEL_WORDS.shown(outcome.detail)}"
        (messages.success if outcome.ok else messages.error)(request, text)
    audit.record(
        "test message",
        "notification settings",
        summary="; ".join(
            f"{o.channel}: {'ok' if o.ok else 'failed'}, {o.detail}" for o in outcomes
        ),
    )
    return redirect("monitoring:notifications")
