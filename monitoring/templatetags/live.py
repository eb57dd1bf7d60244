"""{% live_panel %}: the live section of CONTROL/MONITORING, rendered in place."""

from django import template

from monitoring import live
from monitoring.live import live_context

register = template.Library()


@register.inclusion_tag("monitoring/_live_panel.html", takes_context=True)
def live_panel(context):
    return live_context(context["request"])


@register.simple_tag(takes_context=True)
def refresh_settings(context) -> dict:
    """{% refresh_settings as refresh %}: auto update on or off, and the interval clamped to at
    least MIN_RATE seconds, never the raw query string (rate=0 would reload without pause)."""
    auto, rate = live.refresh_settings(context["request"])
    return {"auto": auto, "rate": rate}
