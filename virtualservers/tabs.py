"""What every tab's views share: the page frame, the edit page's body, the "saved to the draft"
message and the redirect back to the list a button was pressed on. It lives in the lowest app so
that realservers and monitoring can use it without importing each other's views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

PENDING_HINT = "Saved to the draft. Apply it on CONTROL/MONITORING to publish lvs.cf."


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
) -> HttpResponse:
    """The body of every page that edits one draft row.

    GET shows the form (with `initial`). A POST of the CANCEL button goes to `cancel_url` without
    validating. A valid POST saves (`save(form)`, else `form.save()`), says `message(row)` and
    redirects to `success_url` (or `success_url(row)`); an invalid one shows the page again with
    the errors on their fields. A URL may be a URL name or a path. `data` replaces the POST's
    fields (a button that changes one field and saves the rest as typed)."""
    form_kwargs = form_kwargs or {}
    if request.method == "POST":
        if cancel_url is not None and "cancel" in request.POST:
            return redirect(cancel_url)
        form = form_class(request.POST if data is None else data, instance=instance, **form_kwargs)
        if form.is_valid():
            row = save(form) if save is not None else form.save()
            saved(request, message(row))
            return redirect(success_url(row) if callable(success_url) else success_url)
    else:
        form = form_class(instance=instance, initial=initial, **form_kwargs)
    return render_tab(request, template, tab, {**context, "form": form})
