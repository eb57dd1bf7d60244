"""MONITORING SCRIPTS form, and the Apply form of CONTROL/MONITORING."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.models import SEND_EXPECT_MAX, CheckKind, MonitoringScript
from virtualservers.forms import KeepAbsentMixin
from virtualservers.validators import validate_check_program_location


class MonitoringScriptForm(KeepAbsentMixin, forms.ModelForm):
    """Piranha's Sending Program / Send / Expect / regex checkbox, plus the check kind and the
    built-in MySQL check's settings. The password is never rendered back: blank keeps it."""

    mysql_password = forms.CharField(
        label=_("MySQL password"),
        required=False,
        max_length=255,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave blank to keep the stored password."),
    )
    clear_mysql_password = forms.BooleanField(
        label=_("Forget the stored MySQL password"), required=False
    )

    class Meta:
        model = MonitoringScript
        fields = [
            "kind",
            "send_program",
            "send",
            "expect",
            "use_regex",
            "mysql_user",
            "mysql_password",
            "mysql_database",
            "mysql_query",
            "mysql_expect",
        ]
        help_texts = {
            "send_program": _(
                "An absolute path and its arguments; %h is replaced with the real server's "
                "address and %p with its port. Takes priority over Send."
            ),
            "send": _(
                r"Escapes such as \r\n are allowed. Leave blank to only test that the port "
                "accepts connections."
            ),
            "expect": _(
                "The reply must start with this (or match it as a regular expression); "
                "* accepts any reply."
            ),
            "mysql_query": _("Optional, e.g. SELECT 1."),
            "mysql_expect": _("Optional: the first column of the first row must equal this."),
        }

    keep_absent = {"use_regex": False}

    NANNY_FIELDS = ("send_program", "send", "expect", "use_regex")
    MYSQL_FIELDS = (
        "mysql_user",
        "mysql_password",
        "clear_mysql_password",
        "mysql_database",
        "mysql_query",
        "mysql_expect",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["use_regex"] = forms.BooleanField(
            label=self.fields["use_regex"].label, required=False
        )
        for name in ("send_program", "send", "expect"):
            self.fields[name].widget.attrs["maxlength"] = SEND_EXPECT_MAX
        self.has_password = bool(self.instance.mysql_password)

    def clean_send_program(self) -> str:
        value = self.cleaned_data["send_program"]
        validate_check_program_location(value)
        return value

    def clean_send(self) -> str | None:
        # Blank means "no send line" in lvs.cf (as BLANK SEND does).
        return self.cleaned_data["send"] or None

    def clean_expect(self) -> str | None:
        return self.cleaned_data["expect"] or None

    def clean_mysql_password(self) -> str:
        return self.cleaned_data["mysql_password"] or self.instance.mysql_password

    def clean(self) -> dict:
        data = super().clean()
        if data.get("clear_mysql_password"):
            data["mysql_password"] = ""
        if data.get("kind") == CheckKind.MYSQL and not data.get("mysql_user"):
            self.add_error("mysql_user", _("The built-in MySQL check needs a user to log in as."))
        return data

    def nanny_fields(self):
        return [self[name] for name in self.NANNY_FIELDS]

    def mysql_fields(self):
        return [self[name] for name in self.MYSQL_FIELDS]


class ApplyForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=255,
        widget=forms.TextInput(
            attrs={"placeholder": _("What changed (optional)"), "class": "form-control"}
        ),
    )
