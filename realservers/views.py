"""REAL SERVER subtab: the real servers of one virtual server."""

from __future__ import annotations

from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from realservers.forms import RealServerForm
from realservers.models import RealServer
from virtualservers.activation import REAL_SERVER_TOGGLED, activation_message, set_active
from virtualservers.lvsconf.schema import SERVER
from virtualservers.models import VirtualServer
from virtualservers.tabs import (
    CHANGE_DRAFT,
    TOGGLE_SERVER,
    back_to,
    edit_page,
    render_tab,
    requires,
    saved,
)


def next_real_name(virtual: VirtualServer) -> str:
    """A free serverN name within the virtual (Piranha used "[unnamed]" for every new one)."""
    taken = set(virtual.real_servers.values_list("name", flat=True))
    number = 1
    while f"server{number}" in taken:
        number += 1
    return f"server{number}"


def _real(virtual_pk: int, pk: int) -> RealServer:
    return get_object_or_404(
        RealServer.objects.select_related("virtual_server"), pk=pk, virtual_server_id=virtual_pk
    )


@require_safe
def real_list(request: HttpRequest, virtual_pk: int) -> HttpResponse:
    virtual = get_object_or_404(VirtualServer, pk=virtual_pk)
    return render_tab(
        request,
        "realservers/real_list.html",
        "virtual",
        {"virtual": virtual, "subtab": "real", "reals": virtual.real_servers.all()},
    )


def _add_last_inactive(form: RealServerForm) -> RealServer:
    real = form.save(commit=False)
    last = real.virtual_server.real_servers.aggregate(last=Max("position"))["last"]
    real.position = 0 if last is None else last + 1
    real.active = False  # as Piranha: a new real server is inactive until activated
    real.save()
    return real


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def real_add(request: HttpRequest, virtual_pk: int) -> HttpResponse:
    virtual = get_object_or_404(VirtualServer, pk=virtual_pk)
    back = reverse("realservers:real_list", args=[virtual.pk])
    return edit_page(
        request,
        RealServerForm,
        instance=RealServer(virtual_server=virtual),
        initial={"name": next_real_name(virtual), "address": ""},
        save=_add_last_inactive,
        template="realservers/real_form.html",
        tab="virtual",
        context={"virtual": virtual, "subtab": "real", "adding": True},
        message=lambda real: _("Real server %(name)s added (inactive).") % {"name": real.name},
        success_url=back,
        cancel_url=back,
    )


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def real_edit(request: HttpRequest, virtual_pk: int, pk: int) -> HttpResponse:
    real = _real(virtual_pk, pk)
    back = reverse("realservers:real_list", args=[real.virtual_server.pk])
    return edit_page(
        request,
        RealServerForm,
        instance=real,
        lvs_cf_section=SERVER,
        template="realservers/real_form.html",
        tab="virtual",
        context={"virtual": real.virtual_server, "subtab": "real", "real": real, "adding": False},
        message=lambda real: _("Real server %(name)s accepted.") % {"name": real.name},
        success_url=back,
        cancel_url=back,
    )


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def real_delete(request: HttpRequest, virtual_pk: int, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    real = _real(virtual_pk, pk)
    if request.method == "POST":
        real.delete()
        saved(request, _("Real server %(name)s deleted.") % {"name": real.name})
        return redirect("realservers:real_list", virtual_pk)
    return render_tab(
        request,
        "realservers/real_confirm_delete.html",
        "virtual",
        {"virtual": real.virtual_server, "subtab": "real", "real": real},
    )


@require_POST
@requires(TOGGLE_SERVER)
def real_toggle(request: HttpRequest, virtual_pk: int, pk: int) -> HttpResponse:
    """(DE)ACTIVATE: flip the configured `active` flag of one real server."""
    real = _real(virtual_pk, pk)
    set_active(real, not real.active)
    saved(request, activation_message(REAL_SERVER_TOGGLED, real.name, real.active))
    return back_to(request, "realservers:real_list", virtual_pk)
