"""EDIT REAL SERVER form (Piranha's Name, Address, Port, Weight)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from realservers.models import RealServer
from virtualservers.forms import BlockNameField


class RealServerForm(forms.ModelForm):
    name = BlockNameField(label=_("Name"), max_length=64)

    class Meta:
        model = RealServer
        fields = ["name", "address", "port", "weight"]
        help_texts = {
            "port": _("(Leave blank to default to Virtual Server's Application Port)"),
            "weight": _("0 to 65535; 0 sends no new connections."),
        }
