"""(DE)ACTIVATE: the one way the draft's `active` flag of a virtual or real server is changed by
a person (the GUI's button and the JSON API alike), so the audit trail records it the same way
whoever pressed it."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models, transaction
from django.dispatch import Signal
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


# Sent once by a bulk change of one field (the admin's actions), after its UPDATE: sender the
# model, `field` and `value` what was set, `names` the rows it changed. A queryset's update()
# sends no post_save, so the audit trail listens to this to record the change as one entry.
bulk_changed = Signal()


def set_field_in_bulk(
    queryset: models.QuerySet, field: str, value: object, label_fields: Sequence[str]
) -> int:
    """Set `field` to `value` on the rows of `queryset` that differ, in one UPDATE (one save per
    row took 25 s for 10,002 real servers); returns how many changed. Rows that already hold the
    value are neither written nor recorded. `label_fields` name a row in `bulk_changed` (joined
    with "/": a real server is "virtual/real"). One row is saved as the tabs' button saves it,
    so the trail tells it as the button would."""
    with transaction.atomic():
        changing = queryset.exclude(**{field: value})
        rows = list(changing.select_for_update().values_list("pk", *label_fields))
        if len(rows) == 1:
            row = queryset.model._default_manager.get(pk=rows[0][0])
            setattr(row, field, value)
            row.save(update_fields=[field])
            return 1
        if rows:
            # The same rows the read locked (select_for_update), without a list of 10,000 ids.
            changing.update(**{field: value})
            bulk_changed.send(
                sender=queryset.model,
                field=field,
                value=value,
                names=["/".join(str(part) for part in row[1:]) for row in rows],
            )
    return len(rows)
