"""(DE)ACTIVATE: the one way the draft's `active` flag of a virtual or real server is changed by
a person (the GUI's button and the JSON API alike), so the audit trail records it the same way
whoever pressed it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# What the page (or the API's "detail") says after the button; whole sentences, to translate.
REAL_SERVER_TOGGLED = gettext_lazy("Real server %(name)s %(state)s.")
VIRTUAL_SERVER_TOGGLED = gettext_lazy("Virtual server %(name)s %(state)s.")


def set_active(server: models.Model, active: bool) -> bool:
    """Set `server.active` in the draft; False (and nothing saved, nothing recorded) when it
    already was. Only the flag is written: the audit signal then calls it an activation or a
    deactivation rather than a change."""
    if server.active == active:  # type: ignore[attr-defined]
        return False
    server.active = active  # type: ignore[attr-defined]
    server.save(update_fields=["active"])
    return True


def activation_message(sentence: str, name: str, active: bool) -> str:
    """REAL_SERVER_TOGGLED or VIRTUAL_SERVER_TOGGLED filled in: "Real server db1 activated."."""
    state = _("activated") if active else _("deactivated")
    return str(sentence) % {"name": name, "state": state}
