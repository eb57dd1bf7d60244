"""{% live_panel %}: the live section of CONTROL/MONITORING, rendered in place."""

from django import template

from monitoring.live import live_context

register = template.Library()


@register.inclusion_tag("monitoring/_live_panel.html", takes_context=True)
def live_panel(context):
    return live_context(context["request"])
