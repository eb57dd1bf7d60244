"""CONTROL/MONITORING: the home page, Apply, published revisions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from monitoring.bgp.views import bgp_context
from monitoring.models import AuditEntry, Revision
from monitoring.publish import audit as audit_words
from monitoring.publish import revisions as publish
from monitoring.publish.forms import ApplyForm, AuditFilterForm
from monitoring.publish.revisions import PUBLISH_REVISION
from monitoring.redundancy.views import director_context
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.tabs import render_tab, requires

REVISIONS_PER_PAGE = 20
AUDIT_PER_PAGE = 50


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) pairs so the template can colour a unified diff (autoescaped)."""
    return coloured(publish.file_lines(diff))


def coloured(lines: list[str]) -> list[tuple[str, str]]:
    rows = []
    for line in lines:
        if line.startswith(("+++", "---")):
            css = "diff-file"
        elif line.startswith("@@"):
            css = "diff-hunk"
        elif line.startswith("+"):
            css = "diff-add"
        elif line.startswith("-"):
            css = "diff-del"
        else:
            css = ""
        rows.append((css, line))
    return rows


# --- CONTROL/MONITORING -------------------------------------------------------------------------


def block_label(label: str) -> str:
    """A block of lvs.cf as the tabs name it: "virtual www" is virtual server www."""
    kind, _space, name = label.partition(" ")
    if kind == "virtual":
        return _("virtual server %(name)s") % {"name": name}
    if kind == "failover":
        return _("failover service %(name)s") % {"name": name}
    return _("global settings")


def pending_context(latest: Revision | None) -> dict:
    try:
        pending = publish.pending_changes(latest)
    except publish.PublishError as exc:
        return {"pending": None, "has_pending": False, "draft_error": str(exc)}
    for group in pending.groups:
        group.shown_label = block_label(group.label)
        group.rows = coloured(group.lines)
    return {"pending": pending, "has_pending": pending.changed, "draft_error": ""}


@require_safe
def control(request: HttpRequest) -> HttpResponse:
    # The revision's text is read only when the draft or the file changed (pending_changes,
    # file_drift keep what they found per generation): 7 MB at 10,000 virtual servers.
    latest = publish.latest_serial()
    revisions = Revision.objects.defer("text", "checks").select_related("created_by")
    page = Paginator(revisions, REVISIONS_PER_PAGE).get_page(request.GET.get("page"))
    # Each row links to its diff against the one before it: the next row, or the first row
    # of the next page (one extra query, not one per row).
    rows = list(page.object_list)
    following = None
    if page.has_next():
        following = (
            Revision.objects.filter(serial_no__lt=rows[-1].serial_no)
            .order_by("-serial_no")
            .values_list("serial_no", flat=True)
            .first()
        )
    for index, revision in enumerate(rows):
        revision.previous_serial = rows[index + 1].serial_no if index + 1 < len(rows) else following
    return render_tab(
        request,
        "monitoring/control.html",
        "control",
        {
            **pending_context(latest),
            "apply_form": ApplyForm(),
            "revisions": rows,
            "page": page,
            "lvs_cf_path": publish.lvs_cf_path(),
            "file_drift": publish.file_drift(latest),
            **director_context(),
            **bgp_context(),
        },
    )


@require_safe
def pending_text(request: HttpRequest) -> HttpResponse:
    """Every pending change as plain text, block by block (the page shows a screenful)."""
    try:
        text = "\n".join(publish.pending_lines())
    except publish.PublishError as exc:
        text = str(exc)
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_POST
@requires(PUBLISH_REVISION)
def apply(request: HttpRequest) -> HttpResponse:
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Nothing was published: the comment is too long."))
        return redirect("monitoring:control")
    try:
        revision = publish.publish(request.user, form.cleaned_data["comment"])
    except publish.PublishError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Published lvs.cf serial %(serial)s to %(path)s.")
            % {"serial": revision.serial_no, "path": publish.lvs_cf_path()},
        )
    return redirect("monitoring:control")


def _revision(serial: int) -> Revision:
    return get_object_or_404(Revision.objects.select_related("created_by"), serial_no=serial)


@require_safe
def revision_detail(request: HttpRequest, serial: int) -> HttpResponse:
    """A published lvs.cf; with ?against=N, its diff from revision N."""
    revision = _revision(serial)
    against = None
    diff = None
    if "against" in request.GET:
        try:
            against = _revision(int(request.GET["against"]))
        except ValueError:
            raise Http404(_("No such revision.")) from None
        diff = diff_lines(publish.revision_diff(against, revision))
    return render_tab(
        request,
        "monitoring/revision_detail.html",
        "control",
        {
            "revision": revision,
            "against": against,
            "diff": diff,
            "others": Revision.objects.exclude(pk=revision.pk).values_list("serial_no", flat=True)[
                :500
            ],
        },
    )


@require_http_methods(["GET", "POST"])
@requires(PUBLISH_REVISION)
def revision_restore(request: HttpRequest, serial: int) -> HttpResponse:
    """GET asks for confirmation; POST replaces the draft with the revision (not published:
    Apply does that, after the user has seen the pending diff)."""
    revision = _revision(serial)
    if request.method == "POST":
        try:
            changes = publish.restore(revision)
        except (LvsConfError, ValidationError) as exc:
            messages.error(
                request,
                _("Serial %(serial)s cannot be restored: %(error)s")
                % {"serial": serial, "error": exc},
            )
        else:
            messages.success(
                request,
                _(
                    "Serial %(serial)s restored into the draft (%(changes)s). Review the "
                    "pending changes and Apply them to publish."
                )
                % {"serial": serial, "changes": "; ".join(changes)},
            )
        return redirect("monitoring:control")
    return render_tab(
        request, "monitoring/revision_confirm_restore.html", "control", {"revision": revision}
    )


# --- AUDIT --------------------------------------------------------------------------------------


@require_safe
def audit(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, filtered by who, action and what; readable by every
    role."""
    entries = AuditEntry.objects.all()
    form = AuditFilterForm(
        request.GET,
        users=list(entries.order_by("username").values_list("username", flat=True).distinct()),
        actions=list(entries.order_by("action").values_list("action", flat=True).distinct()),
    )
    page = Paginator(form.filtered(entries), AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    old_ids = audit_words.old_id_names((e.target, e.changes) for e in page.object_list)
    for entry in page.object_list:
        entry.shown_action = audit_words.shown_action(entry.action)
        entry.shown_target = audit_words.shown_target(entry.target)
        entry.shown = audit_words.shown_entry(entry.action, entry.target, entry.changes, old_ids)
    return render_tab(
        request,
        "monitoring/audit.html",
        "control",
        {"page": page, "entries": page.object_list, "filter_form": form},
    )
