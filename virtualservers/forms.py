"""Forms of the GLOBAL SETTINGS, REDUNDANCY, VIRTUAL SERVER and MONITORING SCRIPTS pages, with
Piranha's labels.

Model fields carry the labels and validators; these forms add what a browser form needs on top:
Piranha's drop-downs (netmasks, Yes/No radios), service names for ports, and "blank means absent
from lvs.cf" for optional numbers.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from virtualservers.interfaces import InterfaceLookup, local_interfaces, missing_interface
from virtualservers.lvsconf.model import DEFAULT_NETWORK, DEFAULT_PROTOCOL, DEFAULT_SCHEDULER
from virtualservers.lvsconf.render import format_value
from virtualservers.lvsconf.schema import (
    DEFAULT_HTTP_STATUS,
    GLOBAL,
    HTTP_METHODS,
    LOAD_MONITORS,
    RETIRED_LOAD_MONITORS,
    WEB_CHECK_KEYS,
    key,
)
from virtualservers.lvsconf.schema import default as schema_default
from virtualservers.models import (
    SEND_EXPECT_MAX,
    WEB_KINDS,
    CheckKind,
    GlobalSettings,
    MonitoringScript,
    NetworkType,
    Redundancy,
    VirtualServer,
)
from virtualservers.validators import (
    MYSQL_HINT,
    parse_port,
    validate_check_program_file,
    validate_check_program_location,
)

# Piranha's netmask drop-downs: /32 down to /16 (17 entries; /23 was added in 0.8.5-9).
NETMASKS = [
    ".".join(str((0xFFFFFFFF << (32 - bits) >> shift) & 0xFF) for shift in (24, 16, 8, 0))
    for bits in range(32, 15, -1)
]
UNUSED = ("", _("Unused"))


def netmask_choices(current: str | None = None) -> list[tuple[str, str]]:
    """Unused + Piranha's masks, plus the current value when an imported file had another one
    (so that opening and accepting a page never silently drops it)."""
    choices: list[tuple[str, str]] = [UNUSED, *((mask, mask) for mask in NETMASKS)]
    if current and current not in NETMASKS:
        choices.append((current, current))
    return choices


def validate_one_line(value: str) -> None:
    """lvs.cf is line oriented: a line break typed into a field would inject keys."""
    if "\n" in value or "\r" in value:
        raise ValidationError(_("Line breaks cannot be written to lvs.cf."))


def writable_as(section: str, name: str):
    """A validator refusing what the renderer cannot write as lvs.cf key `name` (a stray double
    quote in a command, a blank in a word): the form and Apply then apply the same rule."""
    schema_key = key(section, name)

    def validate(value: object) -> None:
        if value in (None, ""):
            return
        try:
            format_value(schema_key, value, section)
        except ValueError as exc:
            raise ValidationError(
                _("lvs.cf cannot hold this value (%(reason)s)."), params={"reason": exc}
            ) from None

    return validate


class KeepAbsentMixin:
    """Opening a page and clicking ACCEPT must not change lvs.cf. A key an imported file did
    not have (stored as blank/None) shows the daemons' default; if that default comes back
    unchanged, the key stays absent instead of being written out.

    The model is validated with the default (an absent key is valid in lvs.cf even where the
    model insists on a value, such as a scheduler); only saving puts the absent value back."""

    # field name -> the default the page shows for an absent key
    keep_absent: dict[str, object] = {}

    def clean(self) -> dict:
        data = super().clean()
        # name -> the stored absent value, to be written back by save()
        self._kept_absent: dict[str, object] = {}
        for name, default in self.keep_absent.items():
            stored = getattr(self.instance, name, None)
            if self.instance.pk and stored in (None, "") and data.get(name) == default:
                self._kept_absent[name] = stored
        return data

    def save(self, commit: bool = True):
        for name, stored in getattr(self, "_kept_absent", {}).items():
            setattr(self.instance, name, stored)
        return super().save(commit)


class NetmaskField(forms.ChoiceField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=netmask_choices(), **kwargs)


def _bind_netmask_choices(form: forms.ModelForm, *names: str) -> None:
    for name in names:
        current = form.initial.get(name) or getattr(form.instance, name, "")
        if form.is_bound:
            current = form.data.get(form.add_prefix(name)) or current
        form.fields[name].choices = netmask_choices(current)


YES_NO = [("1", _("Yes")), ("0", _("No"))]


def _yes_no_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO,
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        required=False,
        empty_value=None,
    )


class GlobalSettingsForm(forms.ModelForm):
    """GLOBAL SETTINGS. The network type is not a field here: Piranha offers three buttons
    (NAT / Direct Routing / Tunneling) that submit the page; the view passes the one clicked."""

    nat_nmask = NetmaskField(label=_("NAT Router netmask"))
    hard_shutdown = forms.NullBooleanField(
        label=_("Hard shutdown (stop all of LVS when a monitor dies)"),
        required=False,
        help_text=GlobalSettings._meta.get_field("hard_shutdown").help_text,
        widget=forms.NullBooleanSelect(),
    )

    class Meta:
        model = GlobalSettings
        fields = [
            "primary",
            "primary_private",
            "tcp_timeout",
            "tcpfin_timeout",
            "udp_timeout",
            "nat_router_ip",
            "nat_nmask",
            "nat_router_device",
            "rsh_command",
            "hard_shutdown",
            "active_cmd",
            "inactive_cmd",
            "debug_level",
        ]
        labels = {
            "primary_private": _("Primary server private IP: (May be blank)"),
            "rsh_command": _("Remote shell for load monitoring (rsh_command)"),
            "active_cmd": _("Command run on activation (active_cmd)"),
            "inactive_cmd": _("Command run on deactivation (inactive_cmd)"),
            "debug_level": _("Debug level (debug_level)"),
        }

    MAIN_FIELDS = ("primary", "primary_private", "tcp_timeout", "tcpfin_timeout", "udp_timeout")
    NAT_FIELDS = ("nat_router_ip", "nat_nmask", "nat_router_device")
    ADVANCED_FIELDS = ("rsh_command", "hard_shutdown", "active_cmd", "inactive_cmd", "debug_level")

    def __init__(self, *args, network: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The type the page is switching to (a button was clicked), else the stored one.
        self.network = network or self.instance.network
        # A file without `network` means NAT to the daemons (the parser's default).
        self.showing_nat = (self.instance.network or DEFAULT_NETWORK) == NetworkType.NAT
        if not self.showing_nat:
            # Not on the page, so not in the POST: leave the stored values alone.
            for name in self.NAT_FIELDS:
                del self.fields[name]
        if self.showing_nat:
            _bind_netmask_choices(self, "nat_nmask")
        self.fields["hard_shutdown"].widget.choices = [
            ("unknown", _("Not set (the daemons default to Yes)")),
            ("true", _("Yes")),
            ("false", _("No")),
        ]
        for name in ("active_cmd", "inactive_cmd", "debug_level"):
            self.fields[name].validators += [validate_one_line, writable_as(GLOBAL, name)]

    def clean_debug_level(self) -> str:
        value = self.cleaned_data["debug_level"]
        if value and len(value.split()) != 1:
            raise ValidationError(_("The debug level is one word, such as NONE."))
        return value

    def _post_clean(self) -> None:
        self.instance.network = self.network
        if (self.network or DEFAULT_NETWORK) != NetworkType.NAT:
            # Piranha clears the NAT router when leaving NAT (and keeps nat_nmask).
            for name in ("nat_router_ip", "nat_router_device"):
                setattr(self.instance, name, "")
                if name in self.cleaned_data:
                    self.cleaned_data[name] = ""
        super()._post_clean()

    @property
    def network_label(self) -> str:
        if not self.instance.network:
            return _("not set (the daemons use NAT)")
        return NetworkType(self.instance.network).label

    def main_fields(self):
        return [self[name] for name in self.MAIN_FIELDS]

    def nat_fields(self):
        return [self[name] for name in self.NAT_FIELDS if name in self.fields]

    def advanced_fields(self):
        return [self[name] for name in self.ADVANCED_FIELDS]


class RedundancyForm(KeepAbsentMixin, forms.ModelForm):
    """REDUNDANCY fields, shown while the backup is active."""

    keep_absent = {"monitor_links": False, "syncdaemon": False}

    class Meta:
        model = Redundancy
        fields = [
            "backup",
            "backup_private",
            "keepalive",
            "deadtime",
            "heartbeat_port",
            "monitor_links",
            "syncdaemon",
            "syncd_iface",
            "syncd_id",
        ]

    # Piranha's values for a backup just enabled: shown in the empty fields, written by ACCEPT
    # (ENABLE itself writes only backup_active, so that DISABLE leaves no diff behind).
    ENABLE_DEFAULTS = {"keepalive": 6, "deadtime": 18, "heartbeat_port": 539}

    def __init__(
        self,
        *args,
        primary: str = "",
        primary_private: str = "",
        interfaces: InterfaceLookup | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.primary = primary
        self.primary_private = primary_private
        for name, default in self.ENABLE_DEFAULTS.items():
            if self.initial.get(name) is None:
                self.initial[name] = default
        self.interfaces = interfaces or local_interfaces
        self.fields["heartbeat_port"].help_text = _(
            "No meaning under VRRP: keepalived decides which director is active and uses no "
            "port. Nothing in lvsadmin acts on this; it is kept in lvs.cf for Piranha's pulse."
        )
        # Always a field (Piranha hid it while the primary had no private IP, so a value
        # imported from lvs.cf could be neither seen nor cleared); clean() says what it needs.
        self.fields["backup_private"].help_text = _(
            "The backup's end of a second heartbeat path; used only with the primary's private "
            "IP (GLOBAL SETTINGS). May be blank."
        )
        for name in ("monitor_links", "syncdaemon"):
            self.fields[name] = forms.BooleanField(label=self.fields[name].label, required=False)
        self.fields["backup"].required = True

    def clean(self) -> dict:
        data = super().clean()
        if data.get("deadtime") and data.get("keepalive") and data["deadtime"] <= data["keepalive"]:
            self.add_error(
                "deadtime", _("Assume dead after more seconds than the heartbeat interval.")
            )
        backup = data.get("backup")
        if backup and self.primary and backup == self.primary:
            self.add_error(
                "backup",
                _(
                    "The redundant server is the primary itself (%(address)s): give the other "
                    "director's address."
                )
                % {"address": backup},
            )
        private = data.get("backup_private")
        if private and not self.primary_private:
            self.add_error(
                "backup_private",
                _(
                    "The primary has no private IP: give it on GLOBAL SETTINGS first, or leave "
                    "this blank (a private heartbeat path needs both ends)."
                ),
            )
        elif private and private == self.primary_private:
            self.add_error(
                "backup_private",
                _(
                    "The redundant server's private IP is the primary's own (%(address)s): give "
                    "the other director's."
                )
                % {"address": private},
            )
        if data.get("syncdaemon"):
            # Piranha writes these defaults when the sync daemon is switched on.
            data["syncd_iface"] = data.get("syncd_iface") or "eth0"
            if data.get("syncd_id") is None:
                data["syncd_id"] = 0
            missing = missing_interface(data["syncd_iface"], self.interfaces)
            if missing:
                self.add_error(
                    "syncd_iface",
                    _("This director has no interface %(name)s.") % {"name": missing},
                )
        return data

    def save(self, commit: bool = True) -> Redundancy:
        # Piranha's REDUNDANCY page always writes heartbeat = 1.
        self.instance.heartbeat = True
        return super().save(commit)


MH_WARNING = _(
    "REDUNDANCY is active-active (BGP): choose mh (Maglev hashing). With another scheduler a "
    "connection that the router moves to another director meets a different choice of real "
    "server and breaks, unless the sync daemon copies it."
)


class BgpForm(KeepAbsentMixin, forms.ModelForm):
    """REDUNDANCY's third mode, active-active: each director announces the VIPs by BGP to one or
    two routers. Blank numbers are absent from lvs.cf and mean the defaults shown."""

    keep_absent = {"bgp_bfd": True}

    class Meta:
        model = Redundancy
        fields = [
            "bgp_local_as",
            "bgp_router",
            "bgp_router2",
            "bgp_router_as",
            "bgp_bfd",
            "bgp_bfd_interval",
            "bgp_bfd_multiplier",
            "bgp_hold_time",
            "bgp_password_file",
            "bgp_med",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.bgp_bfd
        self.fields["bgp_bfd"] = forms.BooleanField(label=_("BFD"), required=False)
        self.initial["bgp_bfd"] = bgp_default("bgp_bfd") if stored is None else stored
        for name in ("bgp_bfd_interval", "bgp_bfd_multiplier", "bgp_hold_time"):
            self.fields[name].widget.attrs["placeholder"] = str(bgp_default(name))
        for name in ("bgp_local_as", "bgp_router", "bgp_router_as"):
            self.fields[name].required = True
        self.fields["bgp_password_file"].help_text = _(
            "The path of a file holding the TCP MD5 password (root-owned, readable by root "
            "only) on every director; the password itself is never stored here."
        )
        self.fields["bgp_med"].help_text = _(
            "Optional: DIRECTOR_ADDRESS=MED, comma-separated; the router prefers the lowest."
        )

    def clean(self) -> dict:
        data = super().clean()
        first, second = data.get("bgp_router"), data.get("bgp_router2")
        if first and second and first == second:
            self.add_error("bgp_router2", _("The second router is the first one again."))
        bfd = data.get("bgp_bfd")
        interval = data.get("bgp_bfd_interval") or bgp_default("bgp_bfd_interval")
        multiplier = data.get("bgp_bfd_multiplier") or bgp_default("bgp_bfd_multiplier")
        hold = data.get("bgp_hold_time") or bgp_default("bgp_hold_time")
        if bfd and interval * multiplier >= hold * 1000:
            # BFD is there to notice a dead director before the hold timer does.
            self.add_error(
                "bgp_bfd_interval",
                _(
                    "BFD would notice a dead director after %(bfd)s ms, no sooner than the "
                    "hold time (%(hold)s s): shorten the interval or lengthen the hold time."
                )
                % {"bfd": interval * multiplier, "hold": hold},
            )
        return data

    def save(self, commit: bool = True) -> Redundancy:
        self.instance.bgp = True
        return super().save(commit)


def bgp_default(name: str) -> object:
    return schema_default(GLOBAL, name)


def vip_is_real_server(address: str, real_server: str) -> str:
    """Accepted (the draft may be mid-edit), but said: a real server at the VIP's own address
    is the director itself, and its share of the traffic goes nowhere useful."""
    return _(
        "The VIP %(address)s is also the address of real server %(name)s: its share of the "
        "connections would come back to the director. Give that real server its own address."
    ) % {"address": address, "name": real_server}


class PortField(forms.CharField):
    """A port number or a service name (`http`), as lvs.cf accepts for a virtual's port."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        if "\x00" in value:  # the service name lookup would raise instead of refusing it
            raise ValidationError(_("Null characters are not allowed."))
        return parse_port(value)

    def prepare_value(self, value):
        return "" if value is None else value


class BlockNameField(forms.CharField):
    """A block name is one lvs.cf token. Piranha silently replaced blanks with underscores, so
    `my sql` was stored as `my_sql` and nobody was told: here the field refuses it and names
    the one-word form to type instead."""

    def to_python(self, value):
        value = super().to_python(value) or ""
        words = value.split()
        if len(words) > 1:
            raise ValidationError(
                _(
                    "A name is one word in lvs.cf, without blanks: type %(suggestion)s, for example."
                ),
                params={"suggestion": "_".join(words)},
            )
        return value


class VirtualServerForm(KeepAbsentMixin, forms.ModelForm):
    """VIRTUAL SERVER subtab (also the ADD form)."""

    keep_absent = {
        "scheduler": DEFAULT_SCHEDULER,
        "protocol": DEFAULT_PROTOCOL,
        "load_monitor": "none",
        "quiesce_server": False,
    }

    name = BlockNameField(label=_("Name"), max_length=64)

    port = PortField(
        label=_("Application port"),
        required=False,
        help_text=_("A number or a service name such as http."),
    )
    vip_nmask = NetmaskField(label=_("Virtual IP Network Mask"))
    pmask = NetmaskField(label=_("Persistence Network Mask"))
    quiesce_server = _yes_no_field(_("Quiesce server"))

    class Meta:
        model = VirtualServer
        fields = [
            "name",
            "port",
            "protocol",
            "address",
            "vip_nmask",
            "sorry_server",
            "fwmark",
            "device",
            "reentry",
            "timeout",
            "quiesce_server",
            "load_monitor",
            "agent_port",
            "agent_inter",
            "scheduler",
            "persistent",
            "pmask",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _bind_netmask_choices(self, "vip_nmask", "pmask")
        quiesce = self.instance.quiesce_server
        self.initial["quiesce_server"] = "1" if quiesce else "0"
        # An imported virtual may lack these keys; show what the daemons then use instead of
        # letting the browser pick the first choice.
        self.initial["scheduler"] = self.initial.get("scheduler") or DEFAULT_SCHEDULER
        self.initial["protocol"] = self.initial.get("protocol") or DEFAULT_PROTOCOL
        self.initial["load_monitor"] = self.initial.get("load_monitor") or "none"
        # rup and ruptime stay listed so that an imported virtual shows what it has; saving
        # one is refused by clean_load_monitor, which names the replacements.
        self.fields["load_monitor"].choices = [(name, name) for name in LOAD_MONITORS]
        self.fields["load_monitor"].required = False
        self.fields["sorry_server"].help_text = _("Used while no real server is up.")
        self.mh_warning = ""
        if Redundancy.load().bgp:
            # Directors active at once: a flow the router moves to another director must land
            # on the same real server, which only Maglev hashing (mh) promises without a sync
            # daemon. Shown on every load of the page, and refreshed by clean().
            self.mh_warning = str(MH_WARNING)
            field = self.fields["scheduler"]
            field.help_text = format_html(
                '<span class="lvs-import-warning">{}</span> {}', MH_WARNING, field.help_text
            )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("load_monitor") == "agent":
            if not data.get("agent_port"):
                self.add_error(
                    "agent_port", _("The agent check needs the port its agents answer on.")
                )
        else:
            # Written only when used: another tool leaves no agent keys in lvs.cf.
            data["agent_port"] = data["agent_inter"] = None
        if self.mh_warning and (data.get("scheduler") or DEFAULT_SCHEDULER) == "mh":
            self.mh_warning = ""
        address = data.get("address")
        self.saved_warnings = []
        if address and self.instance.pk:
            for name in self.instance.real_servers.filter(address=address).values_list(
                "name", flat=True
            ):
                self.saved_warnings.append(vip_is_real_server(address, name))
        return data

    def clean_load_monitor(self) -> str:
        monitor = self.cleaned_data["load_monitor"] or "none"
        if monitor in RETIRED_LOAD_MONITORS:
            raise ValidationError(
                _(
                    "%(tool)s needs a daemon (rstatd or rwhod) that no current distribution "
                    "runs. Choose agent (HAProxy's agent check), mysql (the MySQL check's "
                    "figures) or uptime (over ssh)."
                ),
                code="retired",
                params={"tool": monitor},
            )
        if monitor == "uptime" and GlobalSettings.load().rsh_command != "ssh":
            raise ValidationError(
                _(
                    "uptime runs over ssh only: set GLOBAL SETTINGS' rsh command to ssh first "
                    "(rsh sends everything in clear)."
                ),
                code="needs_ssh",
            )
        if monitor == "mysql":
            script = MonitoringScript.objects.filter(virtual_server_id=self.instance.pk).first()
            if script is None or script.kind != CheckKind.MYSQL:
                raise ValidationError(
                    _(
                        "mysql reads its figures on the built-in MySQL check's connection: "
                        "choose that check on MONITORING SCRIPTS first."
                    ),
                    code="needs_mysql_check",
                )
        return monitor

    def clean_quiesce_server(self) -> bool:
        return bool(self.cleaned_data.get("quiesce_server"))


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
            "fall",
            "rise",
            "slow_start",
            "path_check",
            *WEB_CHECK_KEYS,
        ]
        help_texts = {
            "send_program": _(
                "An absolute path and its arguments; %h is replaced with the real server's "
                "address and %p with its port. Takes priority over Send. The program must be "
                "installed, executable, owned by root, in a check program directory. A sending "
                "program connects to the real server's own address: it cannot use the "
                "forwarding-path check (through the VIP). For MySQL, prefer the built-in MySQL "
                "check."
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
            "http_path": _("Blank: /"),
            "http_host": _("Blank: the real server's address (and port unless 80/443)."),
            "http_status": _("Codes and ranges, e.g. 200-299,301. Blank: 200-399."),
            "http_body": _("Optional: a plain substring of the first 64 KiB of the body."),
            "tls_verify": _(
                "Off: any certificate is accepted (the connection is still encrypted). On: it "
                "must be valid for the SNI name (or Host header, or address)."
            ),
            "tls_ca": _("Optional: a PEM file of the CAs to trust instead of the system's."),
            "tls_sni": _("Blank: the Host header's name (HTTPS), none for a TLS check."),
        }

    keep_absent = {"use_regex": False}

    NANNY_FIELDS = ("send_program", "send", "expect", "use_regex")
    COUNT_FIELDS = ("fall", "rise", "slow_start", "path_check")
    WEB_FIELDS = (
        "http_method",
        "http_path",
        "http_host",
        "http_status",
        "http_body",
        "http_body_regex",
        "tls_verify",
        "tls_ca",
        "tls_sni",
    )
    # Flags that are lvsadmin's own lvs.cf keys: left at their default they stay absent from
    # the file (a stock pulse refuses keys it does not know), unless the file had them.
    ABSENT_AT_DEFAULT = {
        "slow_start": True,
        "path_check": True,
        "http_body_regex": False,
        "tls_verify": False,
    }
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
        for name, default in self.ABSENT_AT_DEFAULT.items():
            stored = getattr(self.instance, name)
            self.fields[name] = forms.BooleanField(
                label=self.fields[name].label,
                help_text=self.fields[name].help_text,
                required=False,
            )
            self.initial[name] = default if stored is None else stored
        self.fields["http_method"].choices = [
            ("", _("GET (default)")),
            *((m, m) for m in HTTP_METHODS),
        ]
        self.fields["http_status"].widget.attrs["placeholder"] = DEFAULT_HTTP_STATUS
        self.fields["http_path"].widget.attrs["placeholder"] = "/"
        self.has_password = bool(self.instance.mysql_password)
        typed = (self.data.get("send_program") if self.is_bound else None) or getattr(
            self.instance, "send_program", ""
        )
        if "mysql" in (typed or "").lower():
            # The guide's mysql_mon.sh: say, beside the field, what replaces it.
            field = self.fields["send_program"]
            field.help_text = f"{MYSQL_HINT} {field.help_text}"

    def clean_send_program(self) -> str:
        value = self.cleaned_data["send_program"]
        # Where and what first (the text), then the installed file, each with its own fix.
        validate_check_program_location(value)
        validate_check_program_file(value)
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
        self._drop_prefilled_send(data)
        if data.get("clear_mysql_password"):
            data["mysql_password"] = ""
        if data.get("kind") == CheckKind.MYSQL and not data.get("mysql_user"):
            self.add_error("mysql_user", _("The built-in MySQL check needs a user to log in as."))
        for name, default in self.ABSENT_AT_DEFAULT.items():
            if name in data and data[name] == default and getattr(self.instance, name) is None:
                data[name] = None
        kind = data.get("kind")
        virtual = getattr(self.instance, "virtual_server", None)
        if kind in WEB_KINDS and virtual is not None and virtual.protocol == "udp":
            self.add_error(
                "kind", _("HTTP, HTTPS and TLS checks need a TCP virtual server (this one is UDP).")
            )
        if data.get("tls_ca") and not data.get("tls_verify"):
            self.add_error(
                "tls_ca", _("A CA file is used only to verify certificates: tick Verify.")
            )
        return data

    def _drop_prefilled_send(self, data: dict) -> None:
        """pulse ignores `send` beside a sending program, so the page's pre-filled request is no
        one's choice there: it stays out of lvs.cf. A send someone typed, or one a file already
        held beside its program, is kept."""
        prefilled = MonitoringScript._meta.get_field("send").default
        imported = bool(self.instance.send_program) and self.instance.send == prefilled
        if data.get("send_program") and data.get("send") == prefilled and not imported:
            data["send"] = None

    def nanny_fields(self):
        return [self[name] for name in self.NANNY_FIELDS]

    def mysql_fields(self):
        return [self[name] for name in self.MYSQL_FIELDS]

    def count_fields(self):
        return [self[name] for name in self.COUNT_FIELDS]

    def web_fields(self):
        return [self[name] for name in self.WEB_FIELDS]
