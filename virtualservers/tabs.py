"""What every tab's views share: the page frame, the "saved to the draft" message and the redirect
back to the list a button was pressed on. It lives in the lowest app so that realservers and
monitoring can use it without importing each other's views."""

from __future__ import annotations

from typing import Any

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
