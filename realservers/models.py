"""Real servers: the `server` blocks of a virtual server."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from virtualservers.fields import IPAddressField
from virtualservers.lvsconf.schema import SERVER
from virtualservers.models import PORT_VALIDATORS, VirtualServer, range_validators
from virtualservers.validators import validate_ip, validate_name


class RealServer(models.Model):
    virtual_server = models.ForeignKey(
        VirtualServer,
        on_delete=models.CASCADE,
        related_name="real_servers",
        verbose_name=_("virtual server"),
    )
    name = models.CharField(_("Name"), max_length=64, validators=[validate_name])
    position = models.PositiveIntegerField(_("position"), default=0)
    address = IPAddressField(_("Address"), default="0.0.0.0", validators=[validate_ip])
    port = models.PositiveIntegerField(
        _("Port"),
        null=True,
        blank=True,
        validators=PORT_VALIDATORS,
        help_text=_("Leave blank to default to Virtual Server's Application Port"),
    )
    weight = models.PositiveIntegerField(
        _("Weight"),
        null=True,
        blank=True,
        default=1,
        validators=range_validators(SERVER, "weight"),
    )
    active = models.BooleanField(_("active"), default=False)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("real server")
        verbose_name_plural = _("real servers")

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

    @property
    def effective_port(self) -> int | None:
        return self.port or self.virtual_server.port

    def clean(self) -> None:
        if self.virtual_server_id is None:
            return
        self._check_family()
        siblings = RealServer.objects.filter(virtual_server_id=self.virtual_server_id).exclude(
            pk=self.pk
        )
        port = self.effective_port
        # One name per virtual server: lvs.cf's server blocks, the health rows and the
        # notifications tell real servers apart by name.
        if self.name and siblings.filter(name=self.name).exists():
            raise ValidationError(
                {
                    "name": _("This virtual server already has a real server named %(name)s.")
                    % {"name": self.name}
                }
            )
        for other in siblings.select_related("virtual_server"):
            if (
                other.address == self.address
                and other.effective_port == port
                and self.address != "0.0.0.0"
            ):
                raise ValidationError(
                    {
                        "address": _(
                            "This virtual server already has a real server at %(ip)s port %(port)s."
                        )
                        % {"ip": self.address, "port": port}
                    }
                )

    def _check_family(self) -> None:
        """IPVS forwards an IPv4 virtual service to IPv4 real servers only (and IPv6 to IPv6)."""
        vip = self.virtual_server.address
        if not self.address or self.address == "0.0.0.0" or not vip or vip == "0.0.0.0":
            return
        try:
            mine, theirs = ipaddress.ip_address(self.address), ipaddress.ip_address(vip)
        except ValueError:
            return  # the address validators say what is wrong
        if mine.version != theirs.version:
            raise ValidationError(
                {
                    "address": _(
                        "%(ip)s is an IPv%(mine)s address but the virtual server's address "
                        "%(vip)s is IPv%(theirs)s: IPVS cannot forward between the two."
                    )
                    % {
                        "ip": self.address,
                        "mine": mine.version,
                        "vip": vip,
                        "theirs": theirs.version,
                    }
                }
            )
