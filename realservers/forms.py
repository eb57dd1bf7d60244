"""EDIT REAL SERVER form (Piranha's Name, Address, Port, Weight)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from realservers.models import RealServer
from virtualservers.forms import BlockNameField, vip_is_real_server
from virtualservers.validators import validate_host_address


class RealServerForm(forms.ModelForm):
    name = BlockNameField(label=_("Name"), max_length=64)

    class Meta:
        model = RealServer
        fields = ["name", "address", "port", "weight"]
        help_texts = {
            "port": _("(Leave blank to default to Virtual Server's Application Port)"),
            "weight": _("0 to 65535; 0 sends no new connections."),
        }

    def clean_address(self) -> str:
        # Here rather than on the model: an imported server without an address line is stored
        # as 0.0.0.0 (Piranha's "no address"), and is said to be wrong when someone edits it.
        address = self.cleaned_data["address"]
        validate_host_address(address)
        return address

    def clean(self) -> dict:
        data = super().clean()
        self.saved_warnings = []
        virtual = self.instance.virtual_server
        name = data.get("name") or self.instance.name
        if data.get("address") and data["address"] == virtual.address:
            self.saved_warnings.append(vip_is_real_server(virtual.address, name))
        return data
