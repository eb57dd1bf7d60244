"""Apply: turn the draft into a published revision and write lvs.cf.

The draft (models) and the published lvs.cf are separate, as the design says: edits change
nothing on the balancer until someone applies them. Publishing is the only code that writes the
file, and it writes it atomically (temp file in the same directory, fsync, rename, fsync of the
directory), so pulse, lvsd, the worker or applylvs never read half a file.
"""

from __future__ import annotations

import difflib
import logging
import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _

from monitoring.checks.probes import MYSQL_SETTINGS, builtin_check
from monitoring.models import DraftGeneration, Revision
from monitoring.publish import audit, changes, generation
from monitoring.publish.changes import file_lines, unified_range
from monitoring.publish.draft import draft_config, fresh_config, replace_draft
from virtualservers.conf import lvs_cf
from virtualservers.lvsconf import files
from virtualservers.lvsconf.model import LvsConfError, LvsConfig
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render
from virtualservers.models import CheckKind, GlobalSettings, MonitoringScript, VirtualServer

log = logging.getLogger("lvsadmin.publish")
LVS_CF_MODE = 0o640  # root and the worker's group read it; nobody else needs MySQL check names


# The roles' permission to Apply and restore (operator and administrator).
PUBLISH_REVISION = "monitoring.publish_revision"


class PublishError(Exception):
    """Apply refused or failed; the message is for the user."""


def lvs_cf_path() -> Path:
    return lvs_cf()


def parse_text(text: str) -> LvsConfig:
    """The config in an lvs.cf text (the parser's warnings do not matter here)."""
    config, _warnings = parse(text)
    return config


def write_atomically(path: Path, text: str, mode: int = LVS_CF_MODE) -> None:
    """Replace lvs.cf durably, keeping the group of the file it replaces (e.g. piranha), which
    readers rely on."""
    files.write_atomically(path, text, mode=mode, group_of=path, durable=True)


def builtin_checks() -> dict[str, dict[str, str]]:
    """Settings of the checks lvs.cf cannot express (TCP connect, MySQL), by virtual name."""
    rows = MonitoringScript.objects.filter(kind__in=[CheckKind.MYSQL, CheckKind.TCP]).values(
        "virtual_server__name", "kind", *MYSQL_SETTINGS
    )
    return {row["virtual_server__name"]: builtin_check(row) for row in rows}


def _count_and_write(serial: int, path: Path, text: str) -> None:
    """The last steps of publishing, inside its transaction: the counter, then the file (an
    error rolls the revision back)."""
    GlobalSettings.objects.filter(pk=1).update(serial_no=serial)
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise PublishError(
            _("Could not write %(path)s: %(error)s. Nothing was published.")
            % {"path": path, "error": exc.strerror or exc}
        ) from exc


def publish(user, comment: str = "") -> Revision:
    """Publish the draft as the next revision and write it to LVSADMIN_LVS_CF.

    The file is written after the revision row is created and before the transaction commits:
    if writing fails, the row is rolled back, so the history never names a file that was not
    written.
    """
    GlobalSettings.load()  # the row must exist before it can be locked
    path = lvs_cf_path()
    with transaction.atomic():
        # Lock first: a no-op UPDATE takes SQLite's write lock (select_for_update is a no-op
        # there) and the row lock on MySQL, so two Applies cannot take the same serial.
        GlobalSettings.objects.filter(pk=1).update(serial_no=F("serial_no"))
        globals_row = GlobalSettings.objects.select_for_update().get(pk=1)
        last = Revision.objects.aggregate(last=Max("serial_no"))["last"] or 0
        serial = max(last, globals_row.serial_no) + 1

        config = draft_config(serial_no=serial)
        try:
            text = render(config)
        except ValueError as exc:
            raise PublishError(
                _("Refusing to publish: %(error)s. Nothing was written.") % {"error": exc}
            ) from exc
        if "\r" in text:
            raise PublishError(_("Refusing to publish: the rendered lvs.cf contains a CR."))
        try:
            parse_text(text)
        except LvsConfError as exc:
            raise PublishError(
                _(
                    "Refusing to publish: the rendered lvs.cf does not parse (%(error)s). "
                    "Nothing was written."
                )
                % {"error": exc}
            ) from exc

        revision = Revision.objects.create(
            serial_no=serial,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            text=text,
            comment=comment,
            checks=builtin_checks(),
        )
        _count_and_write(serial, path, text)
    return revision


def publish_copy(serial: int, text: str, checks: dict, comment: str) -> Revision:
    """Publish a revision made on the other director as it is (same serial, same text) and make
    it this director's draft too, so that editing here after a takeover starts from the
    configuration that runs. The caller has checked that `text` parses and `serial` is free."""
    GlobalSettings.load()
    path = lvs_cf_path()
    with transaction.atomic():
        GlobalSettings.objects.filter(pk=1).update(serial_no=F("serial_no"))
        revision = Revision.objects.create(
            serial_no=serial, text=text, comment=comment[:255], checks=checks
        )
        try:
            _load_draft(revision)
        except (LvsConfError, ValidationError) as exc:
            # The revision is what the worker enforces; a draft this version cannot hold must
            # not stop the standby from following. The log says what to look at.
            log.error("serial %s is published but not loaded into the draft: %s", serial, exc)
        _count_and_write(serial, path, text)
    return revision


def _load_draft(revision: Revision):
    """The draft becomes `revision` (lvs.cf text plus the built-in checks); returns the change."""
    change = replace_draft(parse_text(revision.text))
    names = dict(VirtualServer.objects.values_list("name", "id"))
    for name, check in (revision.checks or {}).items():
        if name not in names:
            continue
        with audit.muted():
            MonitoringScript.objects.update_or_create(
                virtual_server_id=names[name], defaults=builtin_check(check)
            )
    return change


def restore(revision: Revision) -> list[str]:
    """Replace the draft with a published revision (lvs.cf text plus the built-in checks);
    returns what changed in the draft, one line per kind of change (in the active language)."""
    with transaction.atomic():
        change = _load_draft(revision)
        audit.record(
            "restore",
            f"revision serial {revision.serial_no}",
            summary=f"restore of serial {revision.serial_no}: " + "; ".join(change.lines()),
        )
    return change.lines(translated=True)


# --- What is pending ----------------------------------------------------------------------------


def latest_revision() -> Revision | None:
    return Revision.objects.only("serial_no", "text").order_by("-serial_no").first()


def latest_serial() -> Revision | None:
    """The last revision without its text (7 MB at 10,000 virtual servers): read when needed."""
    return Revision.objects.only("serial_no").order_by("-serial_no").first()


NOTHING_PUBLISHED = "nothing published yet"
_LATEST = object()  # "look it up": callers that already have the latest revision pass it in


def published_text(latest: Revision | None | object = _LATEST) -> tuple[str, str]:
    """(label, text) of what is published: the last revision, else the file a Piranha install
    left behind, else nothing."""
    if latest is _LATEST:
        latest = latest_revision()
    if latest is not None:
        return f"published lvs.cf (serial {latest.serial_no})", latest.text
    path = lvs_cf_path()
    try:
        return f"{path} (not published by lvsadmin)", path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return NOTHING_PUBLISHED, ""


def _file_key(path: Path) -> str:
    """Changes when the file is replaced or written (Apply renames a new file into place)."""
    try:
        stat = path.stat()
    except OSError:
        return "absent"
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def file_drift(latest: Revision | None | object = _LATEST) -> str:
    """Why lvs.cf on disk is not the last published revision (hand edit, deleted...), or "".
    Whether the texts agree is kept for this serial and this file's inode, size and time, so a
    page load does not read the file and the revision's text when neither changed."""
    if latest is _LATEST:
        latest = latest_revision()
    if latest is None:
        return ""
    path = lvs_cf_path()
    key = f"{latest.serial_no}:{_file_key(path)}"
    row = generation.current()
    if row.drift_key == key:
        drifted = row.drifted
    else:
        try:
            on_disk = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _("%(path)s is missing. Apply writes it again.") % {"path": path}
        except (OSError, UnicodeDecodeError) as exc:
            return _("%(path)s cannot be read (%(error)s). Apply writes it again.") % {
                "path": path,
                "error": exc,
            }
        drifted = on_disk != latest.text
        DraftGeneration.objects.filter(pk=1).update(drift_key=key, drifted=drifted)
    if drifted:
        return _(
            "%(path)s differs from published serial %(serial)s (edited by hand?). "
            "Apply replaces it with the draft."
        ) % {"path": path, "serial": latest.serial_no}
    return ""


def draft_text() -> str:
    """The draft as lvs.cf; PublishError if some value cannot be written to the file."""
    try:
        return render(draft_config())
    except ValueError as exc:
        raise PublishError(
            _("The draft cannot be written to lvs.cf: %(error)s.") % {"error": exc}
        ) from exc


# Every Apply bumps serial_no; it is not a change anyone made.
_SERIAL_LINE = re.compile(r"^serial_no\b[^\n]*(\n|$)", re.MULTILINE)


def _without_serial(text: str) -> str:
    # Only the first: it is a global key, near the top, so this does not scan a long file.
    return _SERIAL_LINE.sub("", text, count=1)


# Above this many line pairs, difflib's matcher (quadratic on lvs.cf's many repeated lines:
# 2.7 s for one changed line in 80,000) is skipped for one plain hunk.
DIFFLIB_MAX_PAIRS = 4_000_000
DIFF_CONTEXT = 3


def unified_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff of two lvs.cf texts, ignoring serial_no; empty when they agree.

    Edits touch a few lines of a long file, so the common head and tail are cut off first and
    only the middle goes through difflib: cost follows the size of the change, not of the file.
    """
    # Comparing two strings is cheap; only split into lines when there is a difference.
    old, new = _without_serial(old), _without_serial(new)
    if old == new:
        return ""
    a, b = file_lines(old), file_lines(new)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    start = max(head - DIFF_CONTEXT, 0)
    a_stop = len(a) - max(tail - DIFF_CONTEXT, 0)
    b_stop = len(b) - max(tail - DIFF_CONTEXT, 0)
    lines = [f"--- {old_label}", f"+++ {new_label}"]
    middle_a, middle_b = a[start:a_stop], b[start:b_stop]
    if len(middle_a) * len(middle_b) <= DIFFLIB_MAX_PAIRS:
        for line in difflib.unified_diff(middle_a, middle_b, n=DIFF_CONTEXT, lineterm=""):
            if line.startswith(("---", "+++")):
                continue
            if line.startswith("@@"):
                line = _shift_hunk(line, start)
            lines.append(line)
    else:
        lines.append(f"@@ -{unified_range(start, a_stop)} +{unified_range(start, b_stop)} @@")
        lines += [" " + line for line in a[start:head]]
        lines += ["-" + line for line in a[head : len(a) - tail]]
        lines += ["+" + line for line in b[head : len(b) - tail]]
        lines += [" " + line for line in a[len(a) - tail : a_stop]]
    return "\n".join(lines)


def _shift_hunk(header: str, offset: int) -> str:
    """Move a hunk header computed on a slice back to the whole file's line numbers."""
    match = _HUNK.match(header)
    if match is None or not offset:
        return header
    old_start, old_len, new_start, new_len = match.groups()
    return (
        f"@@ -{int(old_start) + offset}{old_len or ''} +{int(new_start) + offset}{new_len or ''} @@"
    )


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@$")


def pending_diff(latest: Revision | None | object = _LATEST) -> str:
    """What Apply would change in lvs.cf (empty when the draft is what is published)."""
    label, text = published_text(latest)
    draft = draft_text()
    if _nothing_chosen_yet(label, draft):
        return ""
    return unified_diff(text, draft, label, "draft")


def _nothing_chosen_yet(label: str, draft: str) -> bool:
    """A new installation: its draft is the defaults nobody chose yet, nothing to apply."""
    return label == NOTHING_PUBLISHED and _without_serial(draft) == _without_serial(
        render(fresh_config())
    )


def _pending_key(row_number: int, latest: Revision | None) -> str:
    if latest is not None:
        return f"{row_number}:serial {latest.serial_no}"
    return f"{row_number}:file {_file_key(lvs_cf_path())}"


def pending_changes(latest: Revision | None | object = _LATEST) -> changes.PendingChanges:
    """What Apply would change, grouped by block with the first screenful of lines: computed
    once per draft generation and published serial, then read back (one query) until either
    changes. PublishError if the draft cannot be written (not kept: its words are in the
    reader's language)."""
    if latest is _LATEST:
        latest = latest_serial()
    row = generation.current()
    key = _pending_key(row.number, latest)
    if row.pending_key == key:
        return changes.PendingChanges.from_json(row.pending)
    label, text = published_text(latest)
    draft = draft_text()
    if _nothing_chosen_yet(label, draft):
        result = changes.PendingChanges()
    else:
        result = changes.pending(_without_serial(text), _without_serial(draft))
    generation.remember(row, pending_key=key, pending=result.to_json())
    return result


def pending_lines() -> list[str]:
    """Every pending change, block by block, as unified-diff lines (the page's "all" link)."""
    label, text = published_text()
    return list(changes.whole(_without_serial(text), _without_serial(draft_text()), label, "draft"))


def revision_diff(old: Revision | None, new: Revision) -> str:
    """Diff of two revisions (`old` None: against an empty file)."""
    old_label = f"serial {old.serial_no}" if old else "empty"
    return unified_diff(old.text if old else "", new.text, old_label, f"serial {new.serial_no}")
