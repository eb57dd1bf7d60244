"""What every tab's views share: the page frame, the edit page's body, the "saved to the draft"
message and the redirect back to the list a button was pressed on. It lives in the lowest app so
that realservers and monitoring can use it without importing each other's views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from virtualservers.i18n import Wording
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import format_value
from virtualservers.lvsconf.schema import SECTIONS, SERVER, VIRTUAL

# The roles' permissions on the draft (the groups that hold them are made by monitoring's
# migrations; Apply's own, PUBLISH_REVISION, is monitoring.publish's).
CHANGE_DRAFT = "virtualservers.change_draft"
TOGGLE_SERVER = "virtualservers.toggle_server"

PENDING_HINT = gettext_lazy("Saved to the draft. Apply it on CONTROL/MONITORING to publish lvs.cf.")


def requires(permission: str) -> Callable:
    """Refuse (403) any request but GET/HEAD/OPTIONS from a user without `permission`.

    Reading stays open to every logged-in user: a page that edits shows its form to a viewer
    (the template hides the buttons), and only a state change needs the role. The check is on
    the server whatever the page showed, so a forged POST is refused too."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in ("GET", "HEAD", "OPTIONS") and not request.user.has_perm(
                permission
            ):
                raise PermissionDenied(
                    _("Your role does not allow this (%(permission)s).")
                    % {"permission": permission}
                )
            return view(request, *args, **kwargs)

        checked.required_permission = permission  # type: ignore[attr-defined]
        return checked

    return decorator


def render_tab(
    request: HttpRequest, template: str, tab: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render a page of one of the four main tabs (base.html highlights `tab`)."""
    return render(request, template, {"tab": tab, **context}, status=status)


def saved(request: HttpRequest, what: str) -> None:
    messages.success(request, f"{what} {PENDING_HINT}")


def back_to(request: HttpRequest, default: str, *args: Any) -> HttpResponse:
    """Redirect to the posted `next` (the list page the button was on) if it is a local URL."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default, *args)


# The parser (lvsconf, Django-free) words its warnings in English, as importlvscf prints them;
# beside a field they are shown in the reader's language.
PARSER_WORDS = Wording(
    [],
    [
        (
            r"^scheduler (?P<name>\S+) works with lvsadmin, but a stock piranha pulse refuses it$",
            gettext_noop(
                "scheduler %(name)s works with lvsadmin, but a stock piranha pulse refuses it"
            ),
        ),
        (
            r"^(?P<word>\S+) read as (?P<value>on|off): expected 0 or 1$",
            gettext_noop("%(word)s read as %(value)s: expected 0 or 1"),
        ),
        (
            r"^(?P<word>\S+) has a leading zero: piranha reads it as octal \((?P<value>.*)\)$",
            gettext_noop("%(word)s has a leading zero: piranha reads it as octal (%(value)s)"),
        ),
        (
            r"^(?P<word>\S+) is a host name: it is resolved when the daemons start; prefer an "
            r"address$",
            gettext_noop(
                "%(word)s is a host name: it is resolved when the daemons start; prefer an address"
            ),
        ),
        (
            r"^single quotes are kept by piranha: the value is (?P<word>.*) including the "
            r"quotes; use double quotes$",
            gettext_noop(
                "single quotes are kept by piranha: the value is %(word)s including the quotes; "
                "use double quotes"
            ),
        ),
    ],
)

# The block a section's keys sit in, to parse them as a file would carry them.
_BLOCKS = {VIRTUAL: (["virtual v {"], ["}"]), SERVER: (["virtual v {", "server s {"], ["}", "}"])}


def lvs_cf_warnings(section: str, row: Any) -> dict[str, list[str]]:
    """The parser's warnings about `row`'s values (a value pulse runs but the form refuses, a
    scheduler stock pulse lacks, single quotes...), by field name.

    Recomputed from the row, not stored with the import: the warning is always about the value
    the page shows, disappears once the value is fixed, and needs no table kept in step with the
    draft. The row's values are written as lvs.cf lines of `section` (only the keys that are
    fields of the row) and parsed; each warning's line names its key."""
    head, tail = _BLOCKS.get(section, ([], []))
    lines = list(head)
    field_at: dict[int, str] = {}
    for key in SECTIONS[section]:
        value = vars(row).get(key.attr)  # model fields only (a row has other attributes)
        if value is None or value == "":
            continue
        try:
            text = format_value(key, value, section)
            second = vars(row).get(key.second) if key.second else ""
            text += f" {format_value(key, second, section)}" if second else ""
        except ValueError:
            continue  # the renderer names what it cannot write
        lines.append(f"{key.name} = {text}")
        field_at[len(lines)] = key.attr
    try:
        _config, warnings = parse("\n".join([*lines, *tail]) + "\n")
    except LvsConfError as refused:
        # A stored value lvs.cf refuses (a host name made in the shell): said beside its field
        # before anyone submits; the form's own checks say it again on a save.
        field_name = field_at.get(refused.line)
        return {field_name: [refused.reason]} if field_name else {}
    found: dict[str, list[str]] = {}
    for warning in warnings:
        if warning.line in field_at:
            found.setdefault(field_at[warning.line], []).append(warning.message)
    return found


def _show_warnings(form: forms.BaseForm, warnings: dict[str, list[str]]) -> None:
    """Each warning beside its field, before the field's own help (crispy renders help text as
    HTML: the values in the messages are escaped here)."""
    for name, found in warnings.items():
        if name in form.fields:
            field = form.fields[name]
            for message in found:
                field.help_text = format_html(
                    '<span class="lvs-import-warning">{}</span> {}',
                    PARSER_WORDS.shown(message),
                    field.help_text,
                )


def edit_page(
    request: HttpRequest,
    form_class: type[forms.ModelForm],
    *,
    instance: Any,
    template: str,
    tab: str,
    context: dict[str, Any],
    message: Callable[[Any], str],
    success_url: Callable[[Any], str] | str,
    cancel_url: str | None = None,
    initial: dict[str, Any] | None = None,
    form_kwargs: dict[str, Any] | None = None,
    save: Callable[[Any], Any] | None = None,
    data: Mapping[str, Any] | None = None,
    lvs_cf_section: str | None = None,
) -> HttpResponse:
    """The body of every page that edits one draft row.

    GET shows the form (with `initial`). A POST of the CANCEL button goes to `cancel_url` without
    validating. A valid POST saves (`save(form)`, else `form.save()`), says `message(row)` and
    redirects to `success_url` (or `success_url(row)`); an invalid one shows the page again with
    the errors on their fields. A URL may be a URL name or a path. `data` replaces the POST's
    fields (a button that changes one field and saves the rest as typed). With `lvs_cf_section`,
    the parser's warnings about the stored values are shown on their fields."""
    form_kwargs = form_kwargs or {}
    warnings = lvs_cf_warnings(lvs_cf_section, instance) if lvs_cf_section else {}
    if request.method == "POST":
        if cancel_url is not None and "cancel" in request.POST:
            return redirect(cancel_url)
        form = form_class(request.POST if data is None else data, instance=instance, **form_kwargs)
        if form.is_valid():
            row = save(form) if save is not None else form.save()
            saved(request, message(row))
            # Saved, but worth a second look (a form's `saved_warnings`).
            for warning in getattr(form, "saved_warnings", ()):
                messages.warning(request, warning)
            return redirect(success_url(row) if callable(success_url) else success_url)
    else:
        form = form_class(instance=instance, initial=initial, **form_kwargs)
    _show_warnings(form, warnings)
    if not request.user.has_perm(CHANGE_DRAFT):
        # A viewer reads the page: fields that looked editable (with only a line at the bottom
        # saying otherwise) promised a change the server then refuses.
        for field in form.fields.values():
            field.disabled = True
    # CANCEL as a link for whoever may not POST here (the POST would be refused).
    cancel_href = resolve_url(cancel_url) if cancel_url is not None else None
    return render_tab(request, template, tab, {**context, "form": form, "cancel_href": cancel_href})
