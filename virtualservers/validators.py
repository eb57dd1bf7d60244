"""Field validators shared by models, forms and the importer's model conversion.

Each raises django's ValidationError with a message that names what is wrong, so that a form puts
it under the field the user typed into.
"""

from __future__ import annotations

import filecmp
import ipaddress
import os
import re
import socket
import stat

import re2
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from virtualservers.conf import check_programs
from virtualservers.lvsconf.schema import parse_meds, parse_statuses

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


def validate_host_address(value: str) -> None:
    """An address one host can have, for a real server: not the unspecified address (0.0.0.0 is
    what Piranha writes for "no address", and IPVS would forward to nowhere) nor the broadcast
    address (every host on the segment). validate_ip says first whether it is an address."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return
    if address.is_unspecified:
        raise ValidationError(
            _("%(value)s is no host's address: give the real server's own address."),
            params={"value": value},
        )
    if address == ipaddress.IPv4Address("255.255.255.255"):
        raise ValidationError(
            _(
                "%(value)s is the broadcast address: it reaches every host of the segment, not "
                "one real server. Give the real server's own address."
            ),
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


# Programs that run code given on their command line, refused by name even in a check program
# directory. The same list as the worker's (monitoring/checks/programs.py, which this app may not
# import); tests/virtualservers/test_validators.py checks that they stay equal.
INTERPRETER_RE = re.compile(
    r"^(sh|bash|dash|ash|zsh|ksh|mksh|csh|tcsh|fish|busybox|env|sudo|su|xargs|nohup|timeout|"
    r"setsid|nice|awk|gawk|mawk|nawk|sed|find|expect|tclsh|wish|node|nodejs|"
    r"(python|perl|ruby|php|lua|luajit|pypy)[0-9.]*)$"
)
# Said when the program looks like the guide's mysql_mon.sh.
MYSQL_HINT = _(
    "For MySQL, the built-in check (Check: “Built-in MySQL check”) replaces mysql_mon.sh: a "
    "full login and a clean quit, with nothing to install on the director."
)


# Where the system's interpreters live: a program in a check program directory that is a byte
# for byte copy of one of them is an interpreter under another name.
_SYSTEM_BIN_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")


def _system_interpreters() -> dict[int, list[tuple[str, str]]]:
    """The system's interpreters (by INTERPRETER_RE) by file size: (name, real path) each."""
    found: dict[int, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for directory in _SYSTEM_BIN_DIRS:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not INTERPRETER_RE.match(name):
                continue
            real = os.path.realpath(os.path.join(directory, name))
            if real in seen:
                continue
            seen.add(real)
            try:
                size = os.stat(real).st_size
            except OSError:
                continue
            found.setdefault(size, []).append((os.path.basename(real), real))
    return found


def interpreter_copy(path: str) -> str | None:
    """The name of the system interpreter that the file at `path` is a copy of, if it is one
    (same size, same bytes): a shell copied into a check program directory as `notify` runs
    `notify -c 'any command'` as readily as sh does."""
    real = os.path.realpath(path)
    try:
        size = os.stat(real).st_size
    except OSError:
        return None
    for name, original in _system_interpreters().get(size, []):
        if original == real:
            return name
        try:
            if filecmp.cmp(original, real, shallow=False):
                return name
        except OSError:
            continue
    return None


def _check_dirs() -> list[str]:
    return [d.rstrip("/") or "/" for d in check_programs().dirs if d.startswith("/")]


def _install_dir() -> str:
    """The directory the fixes install into: the last one listed (by default
    /etc/lvsadmin/checks, the administrator's; the first is for packages)."""
    dirs = _check_dirs()
    return dirs[-1] if dirs else "/etc/lvsadmin/checks"


def _install_commands(source: str, target: str) -> str:
    directory = os.path.dirname(target)
    return (
        f"install -d -o root -g root -m 0755 {directory} and "
        f"install -o root -g root -m 0755 {source} {target}"
    )


def _with_mysql_hint(message: str, value: str) -> str:
    return f"{message} {MYSQL_HINT}" if "mysql" in value.lower() else message


def validate_check_program_location(value: str) -> None:
    """The GUI's gate: a sending program from a directory root designated
    (LVSADMIN_CHECK_PROGRAM_DIRS), given by its absolute path, and not an interpreter. Each case
    has its own message with the exact fix. The worker checks again, and more, at every run: the
    database is not trusted. Not a model validator, so that importing a Piranha lvs.cf keeps its
    programs (the worker then says why they do not run)."""
    words = value.split(" ")
    program, arguments = words[0], [w for w in words[1:] if w]
    if not program:
        return
    name = os.path.basename(program)
    target_dir = _install_dir()
    real_name = os.path.basename(os.path.realpath(program))
    by_name = bool(INTERPRETER_RE.match(name) or INTERPRETER_RE.match(real_name))
    # An installed copy under another name is one too (only an absolute path names a file).
    copy_of = None if by_name or not program.startswith("/") else interpreter_copy(program)
    if by_name or copy_of is not None:
        script = arguments[0] if arguments and arguments[0].startswith("/") else ""
        if script:
            target = f"{target_dir}/{os.path.basename(script)}"
            fix = _(
                "Make the script the program: give it a #! line (#!/bin/sh), install it as "
                "root with %(commands)s, then type %(typed)s."
            ) % {
                "commands": _install_commands(script, target),
                "typed": " ".join([target, *arguments[1:]]),
            }
        else:
            fix = _(
                "Put the check in a script with a #! line, install it in a check program "
                "directory (%(dirs)s; root sets them with LVSADMIN_CHECK_PROGRAM_DIRS) and type "
                "the script's path."
            ) % {"dirs": ", ".join(check_programs().dirs) or "none"}
        raise ValidationError(
            _with_mysql_hint(
                _(
                    "“%(name)s” is an interpreter: it would run whatever code the command line "
                    "gives it, so it is refused even in a check program directory. %(fix)s"
                )
                % {
                    "name": name if copy_of is None else f"{name} (a copy of {copy_of})",
                    "fix": fix,
                },
                value,
            )
        )
    if not program.startswith("/") or program != os.path.normpath(program):
        raise ValidationError(
            _with_mysql_hint(
                _(
                    "“%(program)s” is not an absolute path: no shell runs the program and no "
                    "PATH is searched. Type its full path, such as %(example)s."
                )
                % {
                    "program": program,
                    "example": f"{target_dir}/{os.path.basename(program) or 'check'}",
                },
                value,
            )
        )
    dirs = [d.rstrip("/") + "/" for d in _check_dirs()]
    allowed = dirs + [os.path.realpath(d) + "/" for d in dirs]
    # By the text (the program may be installed later) and, when it exists, by where it resolves.
    inside = all(
        any(path.startswith(d) for d in allowed)
        for path in (os.path.normpath(program), os.path.realpath(program))
    )
    if not inside:
        target = f"{target_dir}/{name}"
        raise ValidationError(
            _with_mysql_hint(
                _(
                    "%(program)s is outside the check program directories (%(dirs)s; root sets "
                    "them with LVSADMIN_CHECK_PROGRAM_DIRS). As root: %(commands)s, then type "
                    "%(typed)s."
                )
                % {
                    "program": program,
                    "dirs": ", ".join(check_programs().dirs) or "none",
                    "commands": _install_commands(program, target),
                    "typed": " ".join([target, *arguments]),
                },
                value,
            )
        )


def validate_check_program_file(value: str) -> None:
    """The program, inside a check program directory (validate_check_program_location first),
    is installed as the worker will require: it exists, is a regular executable file, owned by
    root and writable by nobody else, as is every directory from the listed one down to it.
    Otherwise every real server would go DOWN after Apply, with the reason only on CONTROL."""
    program = value.split(" ", 1)[0]
    if not program:
        return
    real = os.path.realpath(program)
    directory = os.path.dirname(program)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise ValidationError(
            _with_mysql_hint(
                _(
                    "%(program)s does not exist: every real server would be DOWN after Apply. "
                    "As root: %(commands)s (from where your script is now)."
                )
                % {
                    "program": program,
                    "commands": _install_commands(f"/path/to/{os.path.basename(program)}", program),
                },
                value,
            )
        ) from None
    except OSError as exc:
        raise ValidationError(
            _("%(program)s cannot be read: %(error)s."),
            params={"program": program, "error": exc.strerror or exc},
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(
            _("%(program)s is not a regular file: give the path of the check program itself."),
            params={"program": program},
        )
    if not info.st_mode & 0o111:
        raise ValidationError(
            _("%(program)s is not executable. As root: chmod 0755 %(program)s"),
            params={"program": program},
        )
    # The file, then its directories up to the listed one: owned by root, not group- or
    # world-writable (the worker refuses to run it otherwise).
    roots = [os.path.realpath(d) for d in _check_dirs()]
    paths = [real]
    parent = os.path.dirname(real)
    while parent not in roots and parent != "/" and any(parent.startswith(r + "/") for r in roots):
        paths.append(parent)
        parent = os.path.dirname(parent)
    paths.append(parent)
    for path in paths:
        path_info = os.stat(path)
        problems = []
        if path_info.st_uid != 0:
            problems.append(_("owned by uid %(uid)s, not root") % {"uid": path_info.st_uid})
        if path_info.st_mode & 0o022:
            problems.append(
                _("group- or world-writable (mode %(mode)s)")
                % {"mode": oct(path_info.st_mode & 0o7777)[2:].zfill(4)}
            )
        if not problems:
            continue
        if path == real:
            fix = _("As root: %(commands)s") % {
                "commands": f"install -d -o root -g root -m 0755 {directory} and "
                f"chown root:root {program} && chmod 0755 {program}"
            }
        else:
            fix = _("As root: install -d -o root -g root -m 0755 %(path)s") % {"path": path}
        raise ValidationError(
            _("%(path)s is %(problems)s: the worker runs only what root alone can change. %(fix)s")
            % {"path": path, "problems": _(" and ").join(problems), "fix": fix}
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


def validate_meds(value: str) -> None:
    """BGP's MED per director: `192.0.2.1=10,192.0.2.2=20` (schema.parse_meds)."""
    try:
        parse_meds(value)
    except ValueError as exc:
        raise ValidationError(
            _("%(problem)s (write DIRECTOR_ADDRESS=MED, separated by commas)."),
            params={"problem": str(exc)},
        ) from None
