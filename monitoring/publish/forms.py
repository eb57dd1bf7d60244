"""The Apply form of CONTROL/MONITORING."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ApplyForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=255,
        widget=forms.TextInput(
            attrs={"placeholder": _("What changed (optional)"), "class": "form-control"}
        ),
    )
