"""The configuration draft: global settings, redundancy, virtual servers and their monitoring
scripts.

Field names follow lvs.cf keys. Defaults are Piranha's GUI defaults for new objects (not the
daemons' parser defaults, which lvsconf.model exposes for files that omit a key). Nullable fields
mean "absent from lvs.cf", so an imported file renders back without keys it never had.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from virtualservers.fields import IPAddressField
from virtualservers.lvsconf.model import (
    DEFAULT_SCHEDULER,
    LOAD_MONITORS,
    PIRANHA_SCHEDULERS,
    SCHEDULERS,
)
from virtualservers.lvsconf.schema import GLOBAL, HTTP_METHODS, VIRTUAL, gui_range
from virtualservers.validators import (
    validate_absolute_path,
    validate_absolute_program,
    validate_device,
    validate_host_header,
    validate_hostname,
    validate_http_path,
    validate_http_status,
    validate_ip,
    validate_ipv4,
    validate_meds,
    validate_name,
    validate_netmask,
    validate_no_quote,
    validate_regex,
)


def range_validators(section: str, key: str, low: bool = True, high: bool = True) -> list:
    """The form's bounds of an lvs.cf key, from the schema (the parser reads the same numbers)."""
    bounds = gui_range(section, key)
    validators: list = []
    if low:
        validators.append(MinValueValidator(bounds.low))
    if high:
        validators.append(MaxValueValidator(bounds.high))
    return validators


PORT_VALIDATORS = range_validators(VIRTUAL, "port")
SECONDS_VALIDATORS = range_validators(GLOBAL, "tcp_timeout")


class NetworkType(models.TextChoices):
    DIRECT = "direct", _("Direct Routing")
    NAT = "nat", _("NAT")
    TUNNEL = "tunnel", _("Tunneling")


class Protocol(models.TextChoices):
    TCP = "tcp", "tcp"
    UDP = "udp", "udp"


SCHEDULER_LABELS = {
    "rr": _("Round robin"),
    "wrr": _("Weighted round robin"),
    "lc": _("Least-connection"),
    "wlc": _("Weighted least-connections"),
    "lblc": _("Locality-Based Least-Connection Scheduling"),
    "lblcr": _("Locality-Based Least-Connection Scheduling (R)"),
    "dh": _("Destination Hash Scheduling"),
    "sh": _("Source Hash Scheduling"),
    "sed": _("Shortest expected delay"),
    "nq": _("Never queue"),
    "fo": _("Weighted failover"),
    "ovf": _("Weighted overflow"),
    "mh": _("Maglev hashing"),
}
# The form says which schedulers a stock Piranha pulse cannot load.
SCHEDULER_CHOICES = [
    (
        name,
        SCHEDULER_LABELS[name]
        if name in PIRANHA_SCHEDULERS
        else f"{SCHEDULER_LABELS[name]} (not Piranha-compatible)",
    )
    for name in SCHEDULERS
]
LOAD_MONITOR_CHOICES = [(name, name) for name in LOAD_MONITORS]


class SingletonModel(models.Model):
    """A table with exactly one row (pk=1), fetched or created with `load()`."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls):
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class GlobalSettings(SingletonModel):
    """GLOBAL SETTINGS tab, plus the rarer globals only a hand-edited lvs.cf carries."""

    serial_no = models.PositiveIntegerField(
        _("serial number"), default=0, help_text=_("Serial of the last published revision.")
    )
    primary = IPAddressField(_("Primary server public IP"), blank=True, validators=[validate_ipv4])
    primary_private = IPAddressField(
        _("Primary server private IP"), blank=True, validators=[validate_ipv4]
    )
    primary_shared = models.CharField(_("primary shared device (FOS)"), max_length=255, blank=True)
    service = models.CharField(
        _("service"),
        max_length=3,
        blank=True,
        default="lvs",
        choices=[("lvs", "lvs"), ("fos", "fos")],
    )
    network = models.CharField(
        _("Use network type"),
        max_length=6,
        blank=True,
        choices=NetworkType.choices,
        default=NetworkType.DIRECT,
    )
    nat_router_ip = IPAddressField(_("NAT Router IP"), blank=True, validators=[validate_ipv4])
    nat_router_device = models.CharField(
        _("NAT Router device"), max_length=15, blank=True, validators=[validate_device]
    )
    nat_nmask = models.CharField(
        _("NAT Router netmask"), max_length=15, blank=True, validators=[validate_netmask]
    )
    tcp_timeout = models.PositiveIntegerField(
        _("TCP timeout (seconds)"), null=True, blank=True, validators=SECONDS_VALIDATORS
    )
    tcpfin_timeout = models.PositiveIntegerField(
        _("TCP FIN timeout (seconds)"), null=True, blank=True, validators=SECONDS_VALIDATORS
    )
    udp_timeout = models.PositiveIntegerField(
        _("UDP timeout (seconds)"), null=True, blank=True, validators=SECONDS_VALIDATORS
    )
    rsh_command = models.CharField(
        _("rsh command"), max_length=3, blank=True, choices=[("rsh", "rsh"), ("ssh", "ssh")]
    )
    hard_shutdown = models.BooleanField(
        _("hard shutdown"),
        null=True,
        blank=True,
        help_text=_(
            "Nothing in lvsadmin acts on this: it is written to lvs.cf for Piranha's pulse; "
            "the worker keeps running when a check fails."
        ),
    )
    active_cmd = models.CharField(
        _("active command"),
        max_length=255,
        blank=True,
        help_text=_(
            "Nothing in lvsadmin acts on this: it is written to lvs.cf for Piranha's pulse; "
            "lvsadmin does not run it."
        ),
    )
    inactive_cmd = models.CharField(
        _("inactive command"),
        max_length=255,
        blank=True,
        help_text=_(
            "Nothing in lvsadmin acts on this: it is written to lvs.cf for Piranha's pulse; "
            "lvsadmin does not run it."
        ),
    )
    debug_level = models.CharField(_("debug level"), max_length=32, blank=True, default="NONE")
    reservation_conflict_action = models.CharField(
        _("reservation conflict action (FOS)"), max_length=16, blank=True
    )
    ipvsadm = models.CharField(_("ipvsadm path"), max_length=255, blank=True)
    sync = models.BooleanField(_("file sync (legacy)"), null=True, blank=True)

    class Meta:
        verbose_name = _("global settings")
        verbose_name_plural = _("global settings")
        # The roles' permissions (groups made by monitoring's migration 0007): they cover the
        # whole draft, so they hang on its one singleton rather than on each model.
        permissions = [
            (
                "change_draft",
                _("Can edit the draft (settings, redundancy, virtual and real servers, scripts)"),
            ),
            ("toggle_server", _("Can activate and deactivate virtual and real servers")),
        ]

    def __str__(self) -> str:
        return "Global settings"

    def clean(self) -> None:
        if self.network == NetworkType.NAT and bool(self.nat_router_ip) != bool(
            self.nat_router_device
        ):
            field = "nat_router_device" if self.nat_router_ip else "nat_router_ip"
            raise ValidationError({field: _("NAT Router IP and NAT Router device go together.")})


class Redundancy(SingletonModel):
    """REDUNDANCY tab: the backup director and the heartbeat between the two."""

    backup_active = models.BooleanField(_("Backup active"), default=False)
    backup = IPAddressField(_("Redundant server public IP"), blank=True, validators=[validate_ipv4])
    backup_private = IPAddressField(
        _("Redundant server private IP"), blank=True, validators=[validate_ipv4]
    )
    backup_shared = models.CharField(_("backup shared device (FOS)"), max_length=255, blank=True)
    heartbeat = models.BooleanField(_("heartbeat"), null=True, blank=True)
    keepalive = models.PositiveIntegerField(
        _("Heartbeat interval (seconds)"),
        null=True,
        blank=True,
        default=6,
        validators=range_validators(GLOBAL, "keepalive", high=False),
    )
    deadtime = models.PositiveIntegerField(
        _("Assume dead after (seconds)"),
        null=True,
        blank=True,
        default=18,
        validators=range_validators(GLOBAL, "deadtime", high=False),
    )
    heartbeat_port = models.PositiveIntegerField(
        _("Heartbeat runs on port"),
        null=True,
        blank=True,
        default=539,
        validators=range_validators(GLOBAL, "heartbeat_port"),
        help_text=_(
            "Nothing in lvsadmin acts on this: VRRP (keepalived) decides which director is "
            "active and uses no port; it is written to lvs.cf for Piranha's pulse."
        ),
    )
    monitor_links = models.BooleanField(
        _("Monitor NIC links for failures"), null=True, blank=True, default=False
    )
    syncdaemon = models.BooleanField(_("Use sync daemon"), null=True, blank=True, default=False)
    syncd_iface = models.CharField(
        _("Sync daemon interface"), max_length=15, blank=True, validators=[validate_device]
    )
    syncd_id = models.PositiveSmallIntegerField(
        _("Sync daemon ID"),
        null=True,
        blank=True,
        validators=range_validators(GLOBAL, "syncd_id", low=False),
    )
    # Directors active at once (BGP): lvsadmin's own lvs.cf keys. NULL or blank = absent from
    # lvs.cf (the schema's default), so a Piranha file round-trips unchanged.
    bgp = models.BooleanField(_("Active-active (BGP)"), null=True, blank=True)
    bgp_local_as = models.PositiveBigIntegerField(
        _("Local AS"), null=True, blank=True, validators=range_validators(GLOBAL, "bgp_local_as")
    )
    bgp_router = IPAddressField(_("Router address"), blank=True, validators=[validate_ipv4])
    bgp_router2 = IPAddressField(_("Second router address"), blank=True, validators=[validate_ipv4])
    bgp_router_as = models.PositiveBigIntegerField(
        _("Router AS"), null=True, blank=True, validators=range_validators(GLOBAL, "bgp_router_as")
    )
    bgp_bfd = models.BooleanField(_("BFD"), null=True, blank=True)
    bgp_bfd_interval = models.PositiveIntegerField(
        _("BFD interval (ms)"),
        null=True,
        blank=True,
        validators=range_validators(GLOBAL, "bgp_bfd_interval"),
    )
    bgp_bfd_multiplier = models.PositiveSmallIntegerField(
        _("BFD multiplier"),
        null=True,
        blank=True,
        validators=range_validators(GLOBAL, "bgp_bfd_multiplier"),
    )
    bgp_hold_time = models.PositiveIntegerField(
        _("Hold time (seconds)"),
        null=True,
        blank=True,
        validators=range_validators(GLOBAL, "bgp_hold_time"),
    )
    # A path only: the secret stays in a root-owned file, never in lvs.cf, the database or a page.
    bgp_password_file = models.CharField(
        _("MD5 password file"), max_length=255, blank=True, validators=[validate_absolute_path]
    )
    bgp_med = models.CharField(
        _("MED per director"), max_length=1000, blank=True, validators=[validate_meds]
    )

    def clean(self) -> None:
        # bgp = 1 without these cannot announce anything: refused here so that neither the
        # form nor an import leaves such a draft to publish.
        if self.bgp:
            missing = {
                name: _("Needed in active-active (BGP) mode.")
                for name in ("bgp_local_as", "bgp_router", "bgp_router_as")
                if getattr(self, name) in (None, "")
            }
            if missing:
                raise ValidationError(missing)

    class Meta:
        verbose_name = _("redundancy")
        verbose_name_plural = _("redundancy")

    def __str__(self) -> str:
        return "Redundancy"


class VirtualServer(models.Model):
    """A `virtual` block: one IPVS service on a VIP (or a firewall mark)."""

    name = models.CharField(_("Name"), max_length=64, unique=True, validators=[validate_name])
    position = models.PositiveIntegerField(
        _("position"), default=0, help_text=_("Order in lvs.cf.")
    )
    active = models.BooleanField(_("active"), default=False)
    address = IPAddressField(_("Virtual IP Address"), default="0.0.0.0", validators=[validate_ip])
    device = models.CharField(
        _("Device"), max_length=15, default="eth0:1", validators=[validate_device]
    )
    vip_nmask = models.CharField(
        _("Virtual IP Network Mask"), max_length=15, blank=True, validators=[validate_netmask]
    )
    port = models.PositiveIntegerField(
        _("Application port"), null=True, blank=True, default=80, validators=PORT_VALIDATORS
    )
    protocol = models.CharField(
        _("Protocol"), max_length=3, choices=Protocol.choices, default=Protocol.TCP
    )
    fwmark = models.PositiveIntegerField(
        _("Firewall Mark"),
        null=True,
        blank=True,
        validators=range_validators(VIRTUAL, "fwmark"),
    )
    persistent = models.PositiveIntegerField(
        _("Persistence"),
        null=True,
        blank=True,
        validators=range_validators(VIRTUAL, "persistent"),
    )
    pmask = models.CharField(
        _("Persistence Network Mask"), max_length=15, blank=True, validators=[validate_netmask]
    )
    scheduler = models.CharField(
        _("Scheduling"), max_length=5, choices=SCHEDULER_CHOICES, default=DEFAULT_SCHEDULER
    )
    timeout = models.PositiveIntegerField(
        _("Service timeout"),
        null=True,
        blank=True,
        default=6,
        validators=range_validators(VIRTUAL, "timeout"),
    )
    reentry = models.PositiveIntegerField(
        _("Re-entry Time"),
        null=True,
        blank=True,
        default=15,
        validators=range_validators(VIRTUAL, "reentry", low=False),
    )
    quiesce_server = models.BooleanField(_("Quiesce server"), null=True, blank=True, default=False)
    load_monitor = models.CharField(
        _("Load monitoring tool"),
        max_length=8,
        blank=True,
        choices=LOAD_MONITOR_CHOICES,
        default="none",
        help_text=_(
            "Weights that follow load. uptime: each real server's load average over ssh "
            "(rsh_command = ssh); agent: HAProxy's agent check on the agent port; mysql: the "
            "MySQL check's connection reads Threads_running and a replica's delay."
        ),
    )
    agent_port = models.PositiveIntegerField(
        _("Agent port"),
        null=True,
        blank=True,
        validators=range_validators(VIRTUAL, "agent_port"),
        help_text=_("The TCP port the real servers' agent answers on (HAProxy's agent-port)."),
    )
    agent_inter = models.PositiveIntegerField(
        _("Agent interval"),
        null=True,
        blank=True,
        validators=range_validators(VIRTUAL, "agent_inter"),
        help_text=_("Seconds between two questions to the agent (HAProxy's agent-inter): 2."),
    )
    sorry_server = IPAddressField(_("Sorry Server"), blank=True, validators=[validate_ip])
    client_monitor = models.CharField(_("client monitor (legacy)"), max_length=255, blank=True)
    # Import fidelity: whether the file had an `address` line at all (a virtual without one is legal).
    has_address = models.BooleanField(default=True, editable=False)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("virtual server")
        verbose_name_plural = _("virtual servers")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        others = VirtualServer.objects.exclude(pk=self.pk)
        if self.fwmark:
            if others.filter(fwmark=self.fwmark).exists():
                errors["fwmark"] = _(
                    "Another virtual server already uses firewall mark %(mark)s."
                ) % {"mark": self.fwmark}
        elif (
            others.filter(
                address=self.address, port=self.port, protocol=self.protocol, fwmark__isnull=True
            )
            .exclude(address="0.0.0.0")
            .exists()
        ):
            errors["address"] = _(
                "Another virtual server already uses %(ip)s port %(port)s/%(proto)s."
            ) % {
                "ip": self.address,
                "port": self.port,
                "proto": self.protocol,
            }
        if self.pmask and not self.persistent:
            errors["pmask"] = _("A persistence network mask needs a persistence time.")
        if errors:
            raise ValidationError(errors)


class FailoverService(models.Model):
    """A legacy `failover` block (FOS), kept verbatim so that an import loses nothing."""

    name = models.CharField(_("name"), max_length=64, validators=[validate_name])
    position = models.PositiveIntegerField(default=0)
    items = models.JSONField(
        _("keys"), default=list, help_text=_("[key, raw value] pairs in file order.")
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("failover service (legacy)")
        verbose_name_plural = _("failover services (legacy)")

    def __str__(self) -> str:
        return self.name


SEND_EXPECT_MAX = 255  # Piranha's MAXLENGTH, and nanny's buffer


class CheckKind(models.TextChoices):
    # "nanny" = what lvs.cf says (send/expect, or the sending program when one is set).
    NANNY = "nanny", _("Send/expect or sending program (as nanny)")
    TCP = "tcp", _("TCP connect only")
    MYSQL = "mysql", _("Built-in MySQL check")
    # Said in lvs.cf itself (`check = ...`), unlike the two above.
    HTTP = "http", _("HTTP")
    HTTPS = "https", _("HTTPS")
    TLS = "tls", _("TLS handshake")


WEB_KINDS = (CheckKind.HTTP, CheckKind.HTTPS, CheckKind.TLS)


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
    # lvsadmin's own lvs.cf keys; blank (None) = absent from lvs.cf, nanny's behaviour.
    fall = models.PositiveIntegerField(
        _("Fall"),
        null=True,
        blank=True,
        validators=range_validators(VIRTUAL, "fall"),
        help_text=_("Consecutive failed checks that take a real server out (blank: 1, as nanny)."),
    )
    rise = models.PositiveIntegerField(
        _("Rise"),
        null=True,
        blank=True,
        validators=range_validators(VIRTUAL, "rise"),
        help_text=_(
            "Consecutive good checks that bring it back (blank: Re-entry Time / Service "
            "timeout, as nanny)."
        ),
    )
    slow_start = models.BooleanField(
        _("Slow start"),
        null=True,
        blank=True,
        help_text=_(
            "A real server entering the table starts at weight/32 and doubles about every "
            "20 s (as nanny)."
        ),
    )
    path_check = models.BooleanField(
        _("Check through the forwarding path"),
        null=True,
        blank=True,
        help_text=_(
            "Direct routing and tunnelling: also run the check through the VIP, delivered to "
            "each real server as clients' packets are, so that one without the VIP on its lo "
            "(tunl0 for tunnelling) goes down with what to fix. Not for a sending program: its "
            "own connections cannot take the path, so it is checked on the real server's "
            "address only. No effect with NAT."
        ),
    )
    http_method = models.CharField(
        _("HTTP method"),
        max_length=7,
        blank=True,
        choices=[(m, m) for m in HTTP_METHODS],
    )
    http_path = models.CharField(
        _("HTTP path"), max_length=SEND_EXPECT_MAX, blank=True, validators=[validate_http_path]
    )
    http_host = models.CharField(
        _("Host header"), max_length=255, blank=True, validators=[validate_host_header]
    )
    http_status = models.CharField(
        _("Expected status codes"),
        max_length=SEND_EXPECT_MAX,
        blank=True,
        validators=[validate_http_status],
    )
    http_body = models.CharField(
        _("Body must contain"),
        max_length=SEND_EXPECT_MAX,
        blank=True,
        validators=[validate_no_quote],
    )
    http_body_regex = models.BooleanField(
        _("Treat the body match as a regular expression"), null=True, blank=True
    )
    tls_verify = models.BooleanField(_("Verify the certificate"), null=True, blank=True)
    tls_ca = models.CharField(
        _("CA file"), max_length=SEND_EXPECT_MAX, blank=True, validators=[validate_absolute_path]
    )
    tls_sni = models.CharField(
        _("SNI name"), max_length=253, blank=True, validators=[validate_hostname]
    )

    class Meta:
        # The model was born in the monitoring app; moving it kept its table.
        db_table = "monitoring_monitoringscript"
        verbose_name = _("monitoring script")
        verbose_name_plural = _("monitoring scripts")

    def __str__(self) -> str:
        return f"monitoring for {self.virtual_server}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for flag, pattern in (("use_regex", "expect"), ("http_body_regex", "http_body")):
            value = getattr(self, pattern)
            if getattr(self, flag) and value:
                try:
                    validate_regex(value)
                except ValidationError as exc:
                    errors[pattern] = exc.messages
        if errors:
            raise ValidationError(errors)
