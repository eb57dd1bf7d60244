"""Django admin for monitoring scripts (password write-only) and read-only worker reports."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from monitoring.models import MonitoringScript, RealServerHealth, WorkerStatus


class MonitoringScriptForm(forms.ModelForm):
    # Never rendered back: blank keeps the stored password.
    mysql_password = forms.CharField(
        label="MySQL password", required=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = MonitoringScript
        fields = "__all__"

    def clean_mysql_password(self) -> str:
        value = self.cleaned_data.get("mysql_password", "")
        return value or (self.instance.mysql_password if self.instance.pk else "")


@admin.register(MonitoringScript)
class MonitoringScriptAdmin(admin.ModelAdmin):
    form = MonitoringScriptForm
    list_display = ("virtual_server", "kind", "send_program", "expect", "use_regex")
    list_filter = ("kind", "use_regex")
    search_fields = ("virtual_server__name", "send_program")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RealServerHealth)
class RealServerHealthAdmin(ReadOnlyAdmin):
    list_display = ("virtual_name", "address", "port", "state", "since", "last_check", "last_error")
    list_filter = ("state", "virtual_name")
    search_fields = ("virtual_name", "address")


@admin.register(WorkerStatus)
class WorkerStatusAdmin(ReadOnlyAdmin):
    list_display = ("heartbeat", "pid", "serial_no", "kernel_ok", "kernel_message")
