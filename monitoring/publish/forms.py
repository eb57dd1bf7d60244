"""The Apply form of CONTROL/MONITORING; AUDIT's filter."""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from monitoring.publish import audit


class ApplyForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=255,
        widget=forms.TextInput(
            attrs={"placeholder": _("What changed (optional)"), "class": "form-control"}
        ),
    )


class AuditFilterForm(forms.Form):
    """AUDIT's filter (GET): who, which action, and a word of what (a name, an address, a
    serial), found in the target, the summary or the changes (a bulk entry's names)."""

    user = forms.ChoiceField(label=_("Who"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    what = forms.CharField(label=_("What"), required=False, max_length=100)

    def __init__(self, *args, users: list[str], actions: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        anyone = [("", _("anyone"))]
        self.fields["user"].choices = anyone + [(u, u) for u in users]
        self.fields["action"].choices = [("", _("any action"))] + [
            (a, audit.shown_action(a)) for a in actions
        ]
        for field in self.fields.values():
            field.widget.attrs["class"] = (
                "form-select form-select-sm"
                if isinstance(field, forms.ChoiceField)
                else "form-control form-control-sm"
            )

    def filtered(self, entries: QuerySet) -> QuerySet:
        if not self.is_valid():
            # A user or an action the trail does not hold (an old link): nothing matches.
            return entries.none()
        data = self.cleaned_data
        if data["user"]:
            entries = entries.filter(username=data["user"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["what"]:
            word = data["what"]
            entries = entries.filter(
                Q(target__icontains=word) | Q(summary__icontains=word) | Q(changes__icontains=word)
            )
        return entries
