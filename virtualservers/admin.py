"""Django admin for bulk edits of the draft (the tabs remain the everyday way)."""

from __future__ import annotations

from django.contrib import admin, messages

from monitoring.models import MonitoringScript
from realservers.models import RealServer
from virtualservers.models import (
    FailoverService,
    GlobalSettings,
    Redundancy,
    Revision,
    VirtualServer,
)


@admin.action(description="Activate selected")
def activate(modeladmin, request, queryset) -> None:
    count = queryset.update(active=True)
    modeladmin.message_user(request, f"{count} activated.", messages.SUCCESS)


@admin.action(description="Deactivate selected")
def deactivate(modeladmin, request, queryset) -> None:
    count = queryset.update(active=False)
    modeladmin.message_user(request, f"{count} deactivated.", messages.SUCCESS)


class RealServerInline(admin.TabularInline):
    model = RealServer
    extra = 0
    fields = ("name", "address", "port", "weight", "active", "position")


class MonitoringScriptInline(admin.StackedInline):
    model = MonitoringScript
    extra = 0
    exclude = ("mysql_password",)


@admin.register(VirtualServer)
class VirtualServerAdmin(admin.ModelAdmin):
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
    search_fields = ("name", "address", "real_servers__address")
    actions = [activate, deactivate]
    inlines = [RealServerInline, MonitoringScriptInline]


@admin.register(GlobalSettings)
class GlobalSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "primary", "network", "serial_no")
    readonly_fields = ("serial_no",)


@admin.register(Redundancy)
class RedundancyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "backup_active", "backup", "keepalive", "deadtime")


@admin.register(FailoverService)
class FailoverServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "position")
    search_fields = ("name",)


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ("serial_no", "created_at", "created_by", "comment")
    list_filter = ("created_by",)
    search_fields = ("comment", "text")
    exclude = ("checks",)  # it holds MySQL check passwords

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
