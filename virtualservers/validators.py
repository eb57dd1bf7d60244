"""Field validators shared by models, forms and the importer's model conversion.

Each raises django's ValidationError with a message that names what is wrong, so that a form puts
it under the field the user typed into.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket

import re2
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from virtualservers.lvsconf.schema import parse_statuses

# Linux interface names: at most 15 bytes, no '/', no whitespace, not "." or "..". Piranha's
# alias syntax (eth0:1) is a label on eth0, and the label as a whole has the same 15-byte limit.
_DEVICE_RE = re.compile(r"^[A-Za-z0-9_.@-]+(:[A-Za-z0-9_-]+)?$")


def validate_ip(value: str) -> None:
    """An IPv4 or IPv6 address (IPVS takes both), without an IPv6 zone id: IPVS has no use for
    one, and it would reach a sending program's %h as text."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not an IPv4 or IPv6 address."), params={"value": value}
        ) from None
    if "%" in value:
        raise ValidationError(
            _("“%(value)s” has an IPv6 zone id (%%…): give the address alone."),
            params={"value": value},
        )


def validate_ipv4(value: str) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not an IPv4 address."), params={"value": value}
        ) from None


def validate_netmask(value: str) -> None:
    """A dotted IPv4 netmask with contiguous ones (255.255.255.0, not 255.0.255.0)."""
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value}")
        if "." not in value:
            raise ValueError
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a netmask such as 255.255.255.0."), params={"value": value}
        ) from None


def validate_device(value: str) -> None:
    """A Linux network device, optionally with Piranha's alias label (eth0:1)."""
    if len(value) > 15 or value in {".", ".."} or not _DEVICE_RE.match(value):
        raise ValidationError(
            _(
                "“%(value)s” is not a network device name such as eth0 or eth0:1 (at most 15 characters)."
            ),
            params={"value": value},
        )


def validate_absolute_program(value: str) -> None:
    """A command line whose program is an absolute path (no shell is ever involved)."""
    program = value.split(" ", 1)[0]
    if not program.startswith("/") or program != os.path.normpath(program):
        raise ValidationError(
            _("The sending program must start with an absolute path such as /usr/local/bin/check."),
        )


def validate_check_program_location(value: str) -> None:
    """The GUI's gate: a sending program from a directory root designated
    (LVSADMIN_CHECK_PROGRAM_DIRS). The worker checks again, and more (ownership, modes), at every
    run: the database is not trusted. Not a model validator, so that importing a Piranha lvs.cf
    keeps its programs (the worker then says why they do not run)."""
    program = value.split(" ", 1)[0]
    if not program:
        return
    dirs = [d.rstrip("/") + "/" for d in settings.LVSADMIN_CHECK_PROGRAM_DIRS if d.startswith("/")]
    allowed = dirs + [os.path.realpath(d) + "/" for d in dirs]
    # By the text (the program may be installed later) and, when it exists, by where it resolves.
    inside = all(
        any(path.startswith(d) for d in allowed)
        for path in (os.path.normpath(program), os.path.realpath(program))
    )
    if not inside:
        raise ValidationError(
            _(
                "The sending program must be in a check program directory: %(dirs)s "
                "(root sets them with LVSADMIN_CHECK_PROGRAM_DIRS)."
            ),
            params={"dirs": ", ".join(settings.LVSADMIN_CHECK_PROGRAM_DIRS) or "none"},
        )


def validate_regex(value: str) -> None:
    """A regular expression RE2 accepts: it is matched in linear time, so no reply can make it
    backtrack for ever; backreferences and lookarounds are what it lacks."""
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(value, options)
    except re2.error as exc:
        error = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValidationError(
            _(
                "Not a valid regular expression: %(error)s (backreferences and lookarounds "
                "are not supported)."
            ),
            params={"error": error},
        ) from None


def validate_no_quote(value: str) -> None:
    """lvs.cf has no escape for a double quote inside a quoted value: the stock parser breaks."""
    if '"' in value or "\n" in value or "\r" in value:
        raise ValidationError(
            _("Double quotes and line breaks cannot be written to lvs.cf; use \\r\\n escapes.")
        )


def validate_name(value: str) -> None:
    """Block names are one lvs.cf token: no blanks, no quotes, no braces."""
    if not value or re.search(r"[\s\"'{}#]", value):
        raise ValidationError(_("A name is one word: no spaces, quotes, braces or #."))


def parse_port(value: str | int) -> int:
    """A port number 1-65535, or a TCP service name from /etc/services (as lvs.cf accepts)."""
    if isinstance(value, int):
        port = value
    else:
        text = value.strip()
        if text.isdigit():
            port = int(text)
        else:
            try:
                port = socket.getservbyname(text, "tcp")
            except OSError:
                raise ValidationError(
                    _("“%(value)s” is not a port number or a known service name."),
                    params={"value": value},
                ) from None
    if not 1 <= port <= 65535:
        raise ValidationError(_("A port is a number from 1 to 65535."))
    return port


# A host name as DNS has it (labels of letters, digits and hyphens).
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def validate_http_status(value: str) -> None:
    """Status codes and ranges, `200-299,301`, as the `http_status` key takes them."""
    try:
        parse_statuses(value)
    except ValueError as exc:
        raise ValidationError(
            _("Status codes and ranges separated by commas, e.g. 200-299,301: %(error)s."),
            params={"error": exc},
        ) from None


def validate_http_path(value: str) -> None:
    if not (value.startswith("/") or value == "*"):
        raise ValidationError(_("The path starts with / (for example /health)."))
    if any(ord(ch) < 0x21 or ord(ch) >= 0x7F for ch in value):
        raise ValidationError(
            _("The path may not hold blanks or control characters; percent-encode them.")
        )


def validate_hostname(value: str) -> None:
    if not _HOSTNAME_RE.match(value):
        raise ValidationError(_("%(value)s is not a host name."), params={"value": value})


def validate_host_header(value: str) -> None:
    """A Host header: a name or an address, with an optional :port."""
    host, port = value, ""
    if value.startswith("["):
        host, _sep, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif value.count(":") == 1:
        host, port = value.split(":")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValidationError(_("%(value)s: the port is 1-65535."), params={"value": value})
    try:
        ipaddress.ip_address(host)
    except ValueError:
        validate_hostname(host)


def validate_absolute_path(value: str) -> None:
    if not value.startswith("/") or any(ch.isspace() or ch == '"' for ch in value):
        raise ValidationError(_("An absolute path without blanks or quotes."))
