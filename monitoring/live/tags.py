"""The template library "live" (registered in settings.TEMPLATES): {% live_panel %}, the live
section of CONTROL/MONITORING rendered in place, and the drain, maintenance and return buttons
and states on the pages."""

from django import template
from django.utils.translation import gettext_lazy as _

from monitoring.live import panel, reasons, states

register = template.Library()


@register.inclusion_tag("monitoring/_live_panel.html", takes_context=True)
def live_panel(context):
    return panel.live_context(context["request"])


@register.filter
def reason(text: str) -> str:
    """{{ h.last_error|reason }}: a check's reason in the reader's language (live/reasons.py)."""
    return reasons.shown_reason(text or "")


@register.simple_tag(takes_context=True)
def refresh_settings(context) -> dict:
    """{% refresh_settings as refresh %}: auto update on or off, and the interval clamped to at
    least MIN_RATE seconds, never the raw query string (rate=0 would reload without pause)."""
    auto, rate = panel.refresh_settings(context["request"])
    return {"auto": auto, "rate": rate}


BUTTONS = (
    ("drain", _("Drain"), _("Weight 0: no new connections; the ones it has go on")),
    ("maintenance", _("Maintenance"), _("Out of the table now (its connections end)")),
    ("return", _("Return"), _("Back to normal: its health decides again")),
)


@register.inclusion_tag("monitoring/_runtime_buttons.html", takes_context=True)
def runtime_buttons(context, virtual: str, address: str, port: int, state: str = "", next=""):
    """The buttons that change this real server's state: Drain and Maintenance unless it is so
    already, Return when it is held (the caller checks the role)."""
    state = state or ""
    shown = [b for b in BUTTONS if b[0] != state and (b[0] != states.RETURN or state)]
    return {
        "buttons": shown,
        "virtual": virtual,
        "address": address,
        "port": port,
        "next": next or context["request"].get_full_path(),
    }


@register.simple_tag
def runtime_rows(virtual, reals) -> list:
    """{% runtime_rows virtual reals as reals %}: the real servers with their runtime state."""
    return states.annotate_reals(virtual, reals)
