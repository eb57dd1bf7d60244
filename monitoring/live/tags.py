"""The template library "live" (registered in settings.TEMPLATES): {% live_panel %}, the live
section of CONTROL/MONITORING rendered in place, and the drain, maintenance and return buttons
and states on the pages."""

from django import template

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


@register.inclusion_tag("monitoring/_runtime_buttons.html", takes_context=True)
def runtime_buttons(context, virtual: str, address: str, port: int, state: str = "", next=""):
    """The buttons that change this real server's state (the REAL SERVER subtab; the live
    table writes its own against one shared form): the caller checks the role."""
    shown = panel.hold_buttons(state)
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
