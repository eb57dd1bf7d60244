"""Drain, maintenance and return on the pages: the buttons, and the REAL SERVER rows' states."""

from django import template
from django.utils.translation import gettext_lazy as _

from monitoring import runtime

register = template.Library()

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
    shown = [b for b in BUTTONS if b[0] != state and (b[0] != runtime.RETURN or state)]
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
    return runtime.annotate_reals(virtual, reals)
