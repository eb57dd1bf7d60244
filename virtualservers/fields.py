"""Model fields of the configuration domain."""

from __future__ import annotations

import ipaddress

from django.db import models


class IPAddressField(models.CharField):
    """An IPv4 or IPv6 address kept in its one canonical spelling ("2001:db8::1", never
    "2001:0DB8:0::1"), so that the uniqueness checks, lvs.cf and the kernel's table compare like
    with like. A value that is not an address is left as typed for the validators to name."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 45)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            return value
