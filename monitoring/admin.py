"""Django admin for published revisions and the worker's reports, all read-only."""

from __future__ import annotations

from django.contrib import admin

from monitoring.models import AuditEntry, RealServerHealth, Revision, WorkerStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Revision)
class RevisionAdmin(ReadOnlyAdmin):
    list_display = ("serial_no", "created_at", "created_by", "comment")
    list_filter = ("created_by",)
    search_fields = ("comment", "text")
    exclude = ("checks",)  # it holds MySQL check passwords


@admin.register(RealServerHealth)
class RealServerHealthAdmin(ReadOnlyAdmin):
    list_display = ("virtual_name", "address", "port", "state", "since", "last_check", "last_error")
    list_filter = ("state", "virtual_name")
    search_fields = ("virtual_name", "address")


@admin.register(WorkerStatus)
class WorkerStatusAdmin(ReadOnlyAdmin):
    list_display = ("heartbeat", "pid", "serial_no", "kernel_ok", "kernel_message")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Nobody edits or deletes the trail here, administrators included."""

    list_display = ("at", "username", "address", "action", "target")
    list_filter = ("action", "username")
    search_fields = ("target", "summary", "username", "address")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
