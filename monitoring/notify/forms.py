"""The notifications page's form."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from monitoring.models import NotificationSettings
from virtualservers.validators import (
    validate_absolute_program,
    validate_check_program_file,
    validate_check_program_location,
)


class NotificationSettingsForm(forms.ModelForm):
    """The notifications page. The program obeys the check programs' rules (a directory root
    designated); the worker checks it again, and more, before every run."""

    class Meta:
        model = NotificationSettings
        fields = "__all__"  # every setting is on the page
        widgets = {"recipients": forms.Textarea(attrs={"rows": 3})}

        @staticmethod
        def formfield_callback(field, **kwargs):
            # A URL typed without a scheme is taken as https (Django 6's default, chosen now).
            if field.name == "webhook_url":
                kwargs["assume_scheme"] = "https"
            return field.formfield(**kwargs)

    def clean_recipients(self) -> str:
        addresses = NotificationSettings(
            recipients=self.cleaned_data["recipients"]
        ).recipient_list()
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                _("Not an e-mail address: %(bad)s"), params={"bad": ", ".join(bad)}
            )
        return "\n".join(addresses)

    def clean_program(self) -> str:
        value = " ".join(self.cleaned_data["program"].split(" ")).strip()
        if value:
            # The check program form's checks, in its order: where and what (an interpreter by
            # name, or a copy of one), then the installed file (it exists, root's alone).
            validate_absolute_program(value)
            validate_check_program_location(value)
            validate_check_program_file(value)
        return value

    def clean(self) -> dict:
        data = super().clean()
        window, longest = data.get("window"), data.get("max_delay")
        if window is not None and longest is not None and longest < window:
            self.add_error("max_delay", _("The longest delay cannot be shorter than the window."))
        return data
