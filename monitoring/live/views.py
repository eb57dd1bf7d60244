"""Drain, Maintenance and Return buttons (CONTROL/MONITORING's live table and the REAL SERVER
subtab): one POST view over `monitoring.live.states.set_state`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from monitoring.live import states as runtime
from monitoring.publish.audit import request_actor
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.tabs import back_to, requires


class RuntimeStateForm(forms.Form):
    virtual = forms.CharField(max_length=64)
    address = forms.CharField(max_length=45)
    port = forms.IntegerField(min_value=0, max_value=65535)
    action = forms.ChoiceField(choices=[(a, a) for a in runtime.ACTIONS])

    def ref(self) -> RealServerRef:
        data = self.cleaned_data
        return RealServerRef(data["virtual"], data["address"], data["port"])


DONE = {
    "drain": gettext_lazy("draining: it takes no new connections, the ones it has go on"),
    "maintenance": gettext_lazy("in maintenance: out of the table"),
    runtime.RETURN: gettext_lazy("returned: its health decides again"),
}


def posted_hold(post) -> dict:
    """The live table's buttons share one form: each names its action and real server in one
    value, `hold=ACTION VIRTUAL ADDRESS PORT` (names and addresses hold no space)."""
    if "hold" not in post:
        return post
    words = post["hold"].split(" ")
    return dict(zip(("action", "virtual", "address", "port"), words, strict=False))


@require_POST
@requires(runtime.DRAIN_SERVER)
def runtime_state(request: HttpRequest) -> HttpResponse:
    form = RuntimeStateForm(posted_hold(request.POST))
    if not form.is_valid():
        fields = ", ".join(form.errors)
        messages.error(
            request, _("Nothing changed: %(fields)s missing or wrong.") % {"fields": fields}
        )
        return back_to(request, "monitoring:control")
    ref, action = form.ref(), form.cleaned_data["action"]
    try:
        change = runtime.set_state(ref, action, request.user, request_actor(request).address)
    except runtime.StateRefused as exc:
        messages.error(request, str(exc))
    else:
        what = runtime.label(ref, translated=True).capitalize()
        if change.changed:
            messages.success(request, f"{what}: {DONE[action]}.")  # DONE: translated words
        else:
            messages.info(request, _("%(what)s: already so, nothing changed.") % {"what": what})
    return back_to(request, "monitoring:control")
