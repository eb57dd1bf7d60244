"""The Django side's inputs to the set-up: the published lvs.cf (what runs, not the draft) and
the built-in MySQL checks' users.

realservers may not import monitoring (the apps depend one way), so the published revision is
read from the file Apply writes (virtualservers.conf.lvs_cf()), not from monitoring's Revision
model; its serial_no names the revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from realservers.setup.plan import DEFAULT_ARP_METHOD, MysqlCheck
from virtualservers.conf import lvs_cf
from virtualservers.lvsconf.files import LvsConfFileError, read_lvs_cf
from virtualservers.lvsconf.model import LvsConfError, LvsConfig
from virtualservers.lvsconf.parse import parse
from virtualservers.models import CheckKind, MonitoringScript


@dataclass(frozen=True)
class Published:
    """The published lvs.cf, or why there is none to generate from (`problem`)."""

    config: LvsConfig | None
    path: Path
    problem: str = ""


def published() -> Published:
    path = lvs_cf()
    if not path.exists():
        return Published(
            None,
            path,
            _("Nothing is published yet (%(path)s does not exist): Apply first.") % {"path": path},
        )
    try:
        config, _warnings = parse(read_lvs_cf(path))
    except (LvsConfFileError, LvsConfError) as exc:
        return Published(
            None,
            path,
            _("The published lvs.cf (%(path)s) cannot be read: %(error)s")
            % {"path": path, "error": exc},
        )
    return Published(config, path)


def mysql_checks() -> dict[str, MysqlCheck]:
    """The built-in MySQL checks' users and databases by virtual server name. lvs.cf does not
    carry them: they come from MONITORING SCRIPTS (the password is never read here)."""
    rows = MonitoringScript.objects.filter(kind=CheckKind.MYSQL).values_list(
        "virtual_server__name", "mysql_user", "mysql_database"
    )
    return {name: MysqlCheck(user, database) for name, user, database in rows}


def default_arp_method() -> str:
    """The ARP suppression shown first: sysctls, which need nothing installed. (Not a GLOBAL
    SETTINGS field yet: a draft column would have to be carried through import and export, in
    monitoring's draft mapping; the Set up page and the command choose per request.)"""
    return DEFAULT_ARP_METHOD
