"""The runtime side: monitoring scripts (one per virtual server), and what the worker reports
back for the CONTROL/MONITORING tab (health per real server, counters, the worker's heartbeat)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from realservers.models import RealServer
from virtualservers.models import VirtualServer
from virtualservers.validators import validate_absolute_program, validate_no_quote, validate_regex

SEND_EXPECT_MAX = 255  # Piranha's MAXLENGTH, and nanny's buffer


class CheckKind(models.TextChoices):
    # "nanny" = what lvs.cf says (send/expect, or the sending program when one is set).
    NANNY = "nanny", _("Send/expect or sending program (as nanny)")
    TCP = "tcp", _("TCP connect only")
    MYSQL = "mysql", _("Built-in MySQL check")


class MonitoringScript(models.Model):
    """MONITORING SCRIPTS subtab: how each real server of a virtual server is checked."""

    virtual_server = models.OneToOneField(
        VirtualServer,
        on_delete=models.CASCADE,
        related_name="monitoring_script",
        verbose_name=_("virtual server"),
    )
    kind = models.CharField(
        _("Check"), max_length=8, choices=CheckKind.choices, default=CheckKind.NANNY
    )
    send_program = models.CharField(
        _("Sending Program"),
        max_length=SEND_EXPECT_MAX,
        blank=True,
        validators=[validate_no_quote, validate_absolute_program],
    )
    send = models.CharField(
        _("Send"),
        max_length=SEND_EXPECT_MAX,
        null=True,
        blank=True,
        default="GET / HTTP/1.0\\r\\n\\r\\n",
        validators=[validate_no_quote],
    )
    expect = models.CharField(
        _("Expect"),
        max_length=SEND_EXPECT_MAX,
        null=True,
        blank=True,
        default="HTTP",
        validators=[validate_no_quote],
    )
    use_regex = models.BooleanField(
        _("Treat expect string as a regular expression"), null=True, blank=True, default=False
    )
    mysql_user = models.CharField(_("MySQL user"), max_length=80, blank=True)
    # Never shown back in the GUI; lvs.cf never carries it (it is 0640, but still a file).
    mysql_password = models.CharField(_("MySQL password"), max_length=255, blank=True)
    mysql_database = models.CharField(_("MySQL database"), max_length=64, blank=True)
    mysql_query = models.CharField(_("MySQL query"), max_length=SEND_EXPECT_MAX, blank=True)
    mysql_expect = models.CharField(_("Expected result"), max_length=SEND_EXPECT_MAX, blank=True)

    class Meta:
        verbose_name = _("monitoring script")
        verbose_name_plural = _("monitoring scripts")

    def __str__(self) -> str:
        return f"monitoring for {self.virtual_server}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.use_regex and self.expect:
            try:
                validate_regex(self.expect)
            except ValidationError as exc:
                raise ValidationError({"expect": exc.messages}) from None


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
