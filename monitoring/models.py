"""The runtime side: published revisions, and what the worker reports back for the
CONTROL/MONITORING tab (health per real server, counters, the worker's heartbeat)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from realservers.models import RealServer


class Revision(models.Model):
    """A published lvs.cf: what Apply wrote, by whom and when."""

    serial_no = models.PositiveIntegerField(_("serial number"), unique=True)
    created_at = models.DateTimeField(_("published at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("published by"),
    )
    text = models.TextField(_("lvs.cf"))
    comment = models.CharField(_("comment"), max_length=255, blank=True)
    # Settings of the built-in checks (MySQL credentials...) that lvs.cf cannot express,
    # snapshotted at publish time so that the worker enforces exactly what was applied.
    checks = models.JSONField(_("built-in checks"), default=dict, blank=True)

    class Meta:
        # The model was born in the virtualservers app; moving it kept its table.
        db_table = "virtualservers_revision"
        ordering = ["-serial_no"]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        permissions = [("publish_revision", _("Can apply the draft and restore revisions"))]

    def __str__(self) -> str:
        return f"serial {self.serial_no}"


class HealthState(models.TextChoices):
    UNKNOWN = "unknown", _("unknown")
    UP = "up", _("up")
    DOWN = "down", _("down")


class RealServerHealth(models.Model):
    """Written by the worker, read by CONTROL/MONITORING. Keyed by what the worker sees in the
    published lvs.cf (virtual name, address, port), not by draft rows, which may differ."""

    virtual_name = models.CharField(max_length=64)
    address = models.CharField(max_length=45)
    port = models.PositiveIntegerField()
    real_server = models.ForeignKey(
        RealServer, null=True, blank=True, on_delete=models.SET_NULL, related_name="health"
    )
    state = models.CharField(max_length=8, choices=HealthState.choices, default=HealthState.UNKNOWN)
    since = models.DateTimeField(null=True, blank=True)
    last_check = models.DateTimeField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    weight = models.IntegerField(null=True, blank=True)
    active_conn = models.PositiveIntegerField(default=0)
    inact_conn = models.PositiveIntegerField(default=0)

    class Meta:
        unique_together = [("virtual_name", "address", "port")]
        verbose_name = _("real server health")
        verbose_name_plural = _("real server health")

    def __str__(self) -> str:
        return f"{self.virtual_name} {self.address}:{self.port} {self.state}"


class ConnectionSample(models.Model):
    """One point of a real server's connection graph (kept for an hour)."""

    health = models.ForeignKey(RealServerHealth, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField(db_index=True)
    # The same moment in whole minutes since the epoch: the graph places an hour of samples of
    # hundreds of real servers by it, without building a datetime for each row.
    minute = models.BigIntegerField(default=0, db_index=True)
    active_conn = models.PositiveIntegerField()
    inact_conn = models.PositiveIntegerField()

    class Meta:
        ordering = ["at"]


class WorkerStatus(models.Model):
    """The worker's heartbeat (single row): the GUI says "running" while it is fresh."""

    heartbeat = models.DateTimeField(null=True, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    serial_no = models.IntegerField(
        null=True, blank=True, help_text="serial of the revision being enforced"
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="when the running worker process started"
    )
    previous_heartbeat = models.DateTimeField(
        null=True,
        blank=True,
        help_text="the last heartbeat of the worker before this one (it exited or was restarted)",
    )
    kernel_ok = models.BooleanField(default=False)
    kernel_message = models.CharField(max_length=255, blank=True)
    table_text = models.TextField(
        blank=True, help_text="the live (or would-be) table in ipvsadm -Ln form"
    )
    table = models.JSONField(
        default=list,
        blank=True,
        help_text="the same table as rows, each service with its virtual server's name",
    )

    class Meta:
        verbose_name = _("worker status")
        verbose_name_plural = _("worker status")


class AuditEntry(models.Model):
    """One change: to the draft (GUI, admin, import), an Apply or restore, an activation, a
    role or password change. Who and from where are kept as text, not as foreign keys, so an
    entry outlives the user account and the revision it names (pruning revisions keeps it)."""

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    username = models.CharField(_("who"), max_length=150)
    address = models.CharField(_("from"), max_length=64)
    action = models.CharField(_("action"), max_length=32)
    target = models.CharField(_("what"), max_length=255)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    summary = models.TextField(_("summary"), blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"


class PeerFollowStatus(models.Model):
    """How the standby follows the active director (single row, written by the standby's
    worker): the peer, the last contact or since when it fails and why, and whether the peer's
    configuration matches this director's."""

    peer = models.CharField(_("peer"), max_length=255, blank=True)
    role = models.CharField(_("role"), max_length=16, blank=True)
    state = models.CharField(_("state"), max_length=16, blank=True)
    peer_serial = models.IntegerField(_("peer's serial"), null=True, blank=True)
    local_serial = models.IntegerField(_("this director's serial"), null=True, blank=True)
    matches = models.BooleanField(_("configuration matches"), null=True, blank=True)
    last_contact = models.DateTimeField(_("last contact"), null=True, blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("peer follow status")
        verbose_name_plural = _("peer follow status")
