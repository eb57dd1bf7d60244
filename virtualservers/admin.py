"""Django admin for bulk edits of the draft (the tabs remain the everyday way)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from virtualservers.activation import set_field_in_bulk
from virtualservers.lvsconf.render import failover_item_problem
from virtualservers.models import (
    FailoverService,
    GlobalSettings,
    MonitoringScript,
    Redundancy,
    VirtualServer,
)


def set_in_bulk(modeladmin: ToggleAdmin, queryset, field: str, value: object) -> int:
    """One UPDATE and one audit entry for the whole selection (virtualservers.activation)."""
    return set_field_in_bulk(queryset, field, value, modeladmin.bulk_label_fields)


@admin.action(description=_("Activate selected"), permissions=["toggle"])
def activate(modeladmin, request, queryset) -> None:
    count = set_in_bulk(modeladmin, queryset, "active", True)
    modeladmin.message_user(
        request, gettext_now("%(count)s activated.") % {"count": count}, messages.SUCCESS
    )


@admin.action(description=_("Deactivate selected"), permissions=["toggle"])
def deactivate(modeladmin, request, queryset) -> None:
    count = set_in_bulk(modeladmin, queryset, "active", False)
    modeladmin.message_user(
        request, gettext_now("%(count)s deactivated.") % {"count": count}, messages.SUCCESS
    )


class ToggleAdmin(admin.ModelAdmin):
    """The (de)activate actions need the operator's permission, not the model's change one."""

    # How a bulk action names each row it changed (the audit entry's list).
    bulk_label_fields: tuple[str, ...] = ("name",)

    def has_toggle_permission(self, request) -> bool:
        return request.user.has_perm("virtualservers.toggle_server")


class MonitoringScriptInline(admin.StackedInline):
    model = MonitoringScript
    extra = 0
    exclude = ("mysql_password",)


@admin.register(VirtualServer)
class VirtualServerAdmin(ToggleAdmin):
    list_display = (
        "name",
        "active",
        "address",
        "device",
        "port",
        "protocol",
        "fwmark",
        "scheduler",
        "persistent",
    )
    list_filter = ("active", "protocol", "scheduler", "quiesce_server")
    search_fields = ("name", "address")
    actions = [activate, deactivate]
    # realservers/admin.py adds the real servers (this app does not know that one).
    inlines = [MonitoringScriptInline]


class SingletonAdmin(admin.ModelAdmin):
    """The draft has one row (pk=1) that the model's save() always writes, and lvs.cf needs it:
    no add (it would overwrite the row with a blank form), no delete (it dropped the draft's
    `primary` without a word), and the list goes straight to the one change page. The add
    page, which a bookmark may still open, goes there too rather than answering a bare 403."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _the_row(self, request) -> HttpResponseRedirect:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = self.model.load()
        opts = self.model._meta
        return redirect(f"admin:{opts.app_label}_{opts.model_name}_change", row.pk)

    def changelist_view(self, request, extra_context=None) -> HttpResponse:
        return self._the_row(request)

    def add_view(self, request, form_url="", extra_context=None) -> HttpResponse:
        return self._the_row(request)


@admin.register(GlobalSettings)
class GlobalSettingsAdmin(SingletonAdmin):
    readonly_fields = ("serial_no",)


@admin.register(Redundancy)
class RedundancyAdmin(SingletonAdmin):
    pass


class FailoverServiceForm(forms.ModelForm):
    class Meta:
        model = FailoverService
        fields = "__all__"

    def clean_items(self) -> list[list[str]]:
        """Each [key, value] pair is written to lvs.cf as it is: refuse what would not stay one
        line of this block (the renderer refuses it too, but here the field is named)."""
        items = self.cleaned_data.get("items")
        if not isinstance(items, list):
            raise forms.ValidationError(_("A list of [key, value] pairs."))
        problems = []
        for number, item in enumerate(items, start=1):
            if not (
                isinstance(item, list | tuple)
                and len(item) == 2
                and all(isinstance(part, str) for part in item)
            ):
                problems.append(f"item {number}: a [key, value] pair of two strings")
                continue
            problem = failover_item_problem(*item)
            if problem is not None:
                problems.append(f"item {number}: {problem}")
        if problems:
            raise forms.ValidationError(problems)
        return [list(item) for item in items]


@admin.register(FailoverService)
class FailoverServiceAdmin(admin.ModelAdmin):
    form = FailoverServiceForm
    list_display = ("name", "position")
    search_fields = ("name",)


class MonitoringScriptForm(forms.ModelForm):
    # Never rendered back: blank keeps the stored password.
    mysql_password = forms.CharField(
        label=_("MySQL password"), required=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = MonitoringScript
        fields = "__all__"

    def clean_mysql_password(self) -> str:
        value = self.cleaned_data.get("mysql_password", "")
        return value or (self.instance.mysql_password if self.instance.pk else "")


# Shown instead of a stored MySQL password wherever the admin would show its value.
PASSWORD_SET, NO_PASSWORD = "(set; never shown)", "(none)"


@admin.register(MonitoringScript)
class MonitoringScriptAdmin(admin.ModelAdmin):
    form = MonitoringScriptForm
    list_display = ("virtual_server", "kind", "send_program", "expect", "use_regex")
    list_filter = ("kind", "use_regex")
    search_fields = ("virtual_server__name", "send_program")

    def get_fields(self, request, obj=None) -> list[str]:
        """Without the change permission (a staff viewer or operator) the admin shows every field
        read-only, as its stored value: the password field becomes whether one is set. With it,
        the form's password input never renders the value back."""
        fields = list(super().get_fields(request, obj))
        if self.has_change_permission(request, obj):
            return fields
        return ["mysql_password_state" if f == "mysql_password" else f for f in fields]

    @admin.display(description="MySQL password")
    def mysql_password_state(self, obj: MonitoringScript | None) -> str:
        return PASSWORD_SET if obj is not None and obj.mysql_password else NO_PASSWORD
