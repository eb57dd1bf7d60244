"""Publishing's setting, read once: where the published lvs.cf is written (and read back by the
worker and applylvs)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from virtualservers.conf import resolved_once


@resolved_once
def lvs_cf() -> Path:
    """LVSADMIN_LVS_CF."""
    return Path(settings.LVSADMIN_LVS_CF)
