"""GLOBAL SETTINGS, REDUNDANCY and VIRTUAL SERVERS pages (with the MONITORING SCRIPTS subtab).

Views are thin: they edit the draft models and redirect. Nothing here touches lvs.cf; that is
Apply's job (monitoring.publish.revisions), on the CONTROL/MONITORING page. Every state change is a POST
(Piranha's GETs made every button CSRF-able).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import CharField, Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from virtualservers.activation import VIRTUAL_SERVER_TOGGLED, activation_message, set_active
from virtualservers.forms import (
    BgpForm,
    GlobalSettingsForm,
    MonitoringScriptForm,
    RedundancyForm,
    VirtualServerForm,
)
from virtualservers.lvsconf.schema import GLOBAL, VIRTUAL
from virtualservers.models import (
    GlobalSettings,
    MonitoringScript,
    NetworkType,
    Redundancy,
    VirtualServer,
)
from virtualservers.tabs import (
    CHANGE_DRAFT,
    TOGGLE_SERVER,
    back_to,
    edit_page,
    render_tab,
    requires,
    saved,
)

VIRTUALS_PER_PAGE = 100
NETWORK_BUTTONS = (NetworkType.NAT, NetworkType.DIRECT, NetworkType.TUNNEL)


# --- GLOBAL SETTINGS ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def global_settings(request: HttpRequest) -> HttpResponse:
    # One of NAT / Direct Routing / Tunneling was clicked, or ACCEPT (keeps the type).
    network = request.POST.get("network")
    return edit_page(
        request,
        GlobalSettingsForm,
        instance=GlobalSettings.load(),
        lvs_cf_section=GLOBAL,
        form_kwargs={"network": network if network in NetworkType.values else None},
        template="virtualservers/global_settings.html",
        tab="global",
        # Piranha's button order.
        context={"network_types": [(t.value, t.label) for t in NETWORK_BUTTONS]},
        message=lambda _row: _("Global settings accepted."),
        success_url="virtualservers:global_settings",
    )


# --- REDUNDANCY ---------------------------------------------------------------------------------

BGP_FIELDS = ("bgp", *BgpForm.Meta.fields)


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def redundancy(request: HttpRequest) -> HttpResponse:
    instance, settings_ = Redundancy.load(), GlobalSettings.load()
    template, context = "virtualservers/redundancy.html", {"red": instance}
    if instance.bgp:
        # Active-active: every director announces the VIPs by BGP; the backup's fields (VRRP)
        # play no part until the mode is left.
        return edit_page(
            request,
            BgpForm,
            instance=instance,
            lvs_cf_section=GLOBAL,
            template=template,
            tab="redundancy",
            context=context,
            message=lambda _row: _("Active-active (BGP) settings accepted."),
            success_url="virtualservers:redundancy",
        )
    if not instance.backup_active:
        if request.method == "POST":
            messages.error(request, _("The backup is inactive: ENABLE it first."))
            return redirect("virtualservers:redundancy")
        return render_tab(request, template, "redundancy", {**context, "form": None})
    return edit_page(
        request,
        RedundancyForm,
        instance=instance,
        lvs_cf_section=GLOBAL,
        form_kwargs={
            "primary": settings_.primary or "",
            "primary_private": settings_.primary_private or "",
        },
        template=template,
        tab="redundancy",
        context=context,
        message=lambda _row: _("Redundancy settings accepted."),
        success_url="virtualservers:redundancy",
    )


@require_POST
@requires(CHANGE_DRAFT)
def redundancy_enable(request: HttpRequest) -> HttpResponse:
    """Only the flag: the form then shows Piranha's defaults in the empty fields and ACCEPT
    writes them. Writing them here left them in lvs.cf after DISABLE (a pending diff nobody
    made: ENABLE then DISABLE must give back the file it started from)."""
    instance = Redundancy.load()
    instance.backup_active = True
    instance.save(update_fields=["backup_active"])
    saved(request, _("Backup enabled."))
    return redirect("virtualservers:redundancy")


@require_POST
@requires(CHANGE_DRAFT)
def redundancy_disable(request: HttpRequest) -> HttpResponse:
    instance = Redundancy.load()
    instance.backup_active = False
    instance.save(update_fields=["backup_active"])
    saved(request, _("Backup disabled."))
    return redirect("virtualservers:redundancy")


@require_POST
@requires(CHANGE_DRAFT)
def redundancy_bgp_enable(request: HttpRequest) -> HttpResponse:
    """The third mode. Its settings are asked next; lvs.cf says bgp = 1 only once they are
    accepted (a BGP configuration without a router cannot be published)."""
    instance = Redundancy.load()
    instance.bgp = True
    instance.save()
    saved(request, _("Active-active (BGP) chosen: give the router's settings."))
    return redirect("virtualservers:redundancy")


@require_POST
@requires(CHANGE_DRAFT)
def redundancy_bgp_disable(request: HttpRequest) -> HttpResponse:
    """Back to one director or active + standby (whatever backup_active says). Every BGP key
    leaves lvs.cf with the mode: a stock pulse refuses keys it does not know."""
    instance = Redundancy.load()
    for name in BGP_FIELDS:
        empty = "" if isinstance(Redundancy._meta.get_field(name), CharField) else None
        setattr(instance, name, empty)
    instance.save()
    saved(request, _("Active-active (BGP) left."))
    return redirect("virtualservers:redundancy")


@require_POST
@requires(CHANGE_DRAFT)
def redundancy_reset(request: HttpRequest) -> HttpResponse:
    """Piranha's RESET: backup 0.0.0.0, no private IP, heartbeat 6 s / 18 s on port 539."""
    instance = Redundancy.load()
    instance.backup = "0.0.0.0"
    instance.backup_private = ""
    instance.keepalive = 6
    instance.deadtime = 18
    instance.heartbeat_port = 539
    instance.heartbeat = True
    instance.save()
    saved(request, _("Redundancy settings reset."))
    return redirect("virtualservers:redundancy")


# --- VIRTUAL SERVERS ----------------------------------------------------------------------------


def virtual_queryset(query: str = ""):
    """The list's rows: only the columns the table shows, plus the real-server count (one
    aggregate query, so the page costs the same with 10 or 10,000 servers)."""
    qs = VirtualServer.objects.only(
        "id",
        "name",
        "active",
        "address",
        "device",
        "vip_nmask",
        "port",
        "protocol",
        "fwmark",
        "position",
    ).annotate(real_count=Count("real_servers"))
    # Explicit: Meta.ordering is not applied to aggregate (GROUP BY) queries.
    qs = qs.order_by("position", "id")
    if query:
        # A real server's address finds the virtual servers it serves: a subquery, so the page
        # stays one query and the join does not multiply real_count.
        serving = VirtualServer.objects.filter(real_servers__address__icontains=query).values("pk")
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(address__icontains=query)
            | Q(device__icontains=query)
            | Q(pk__in=serving)
        )
    return qs


@require_safe
def virtual_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    paginator = Paginator(virtual_queryset(query), VIRTUALS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render_tab(
        request,
        "virtualservers/virtual_list.html",
        "virtual",
        {"page": page, "query": query, "virtuals": page.object_list},
    )


def next_virtual_name() -> str:
    """Piranha names new virtuals like this; the first free virtualN."""
    taken = set(
        VirtualServer.objects.filter(name__startswith="virtual").values_list("name", flat=True)
    )
    number = 1
    while f"virtual{number}" in taken:
        number += 1
    return f"virtual{number}"


def create_virtual(form: VirtualServerForm) -> VirtualServer:
    """Save a new virtual (inactive, last in lvs.cf) with Piranha's monitoring defaults."""
    with transaction.atomic():
        virtual = form.save(commit=False)
        last = VirtualServer.objects.aggregate(last=Max("position"))["last"]
        virtual.position = 0 if last is None else last + 1
        virtual.active = False
        virtual.save()
        # The model's defaults are Piranha's: send "GET / HTTP/1.0\r\n\r\n", expect "HTTP".
        MonitoringScript.objects.create(virtual_server=virtual)
    return virtual


def _virtual_edit_url(virtual: VirtualServer) -> str:
    return reverse("virtualservers:virtual_edit", args=[virtual.pk])


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def virtual_add(request: HttpRequest) -> HttpResponse:
    return edit_page(
        request,
        VirtualServerForm,
        instance=VirtualServer(),
        # Piranha's defaults for a new virtual; the VIP is left for the user to type.
        initial={"name": next_virtual_name(), "address": ""},
        save=create_virtual,
        template="virtualservers/virtual_form.html",
        tab="virtual",
        context={"adding": True},
        message=lambda virtual: _("Virtual server %(name)s added (inactive).") % {"name": virtual},
        success_url=_virtual_edit_url,
        cancel_url="virtualservers:virtual_list",
    )


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def virtual_edit(request: HttpRequest, pk: int) -> HttpResponse:
    virtual = get_object_or_404(VirtualServer, pk=pk)
    return edit_page(
        request,
        VirtualServerForm,
        instance=virtual,
        lvs_cf_section=VIRTUAL,
        template="virtualservers/virtual_form.html",
        tab="virtual",
        context={"virtual": virtual, "subtab": "virtual", "adding": False},
        message=lambda virtual: _("Virtual server %(name)s accepted.") % {"name": virtual},
        success_url=_virtual_edit_url,
        cancel_url="virtualservers:virtual_list",
    )


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def virtual_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes (with its real servers and monitoring script)."""
    virtual = get_object_or_404(VirtualServer, pk=pk)
    if request.method == "POST":
        name = virtual.name
        virtual.delete()
        saved(request, _("Virtual server %(name)s deleted.") % {"name": name})
        return redirect("virtualservers:virtual_list")
    return render_tab(
        request,
        "virtualservers/virtual_confirm_delete.html",
        "virtual",
        {"virtual": virtual, "real_count": virtual.real_servers.count()},
    )


@require_POST
@requires(TOGGLE_SERVER)
def virtual_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """(DE)ACTIVATE: flip the configured `active` flag."""
    virtual = get_object_or_404(VirtualServer, pk=pk)
    set_active(virtual, not virtual.active)
    saved(request, activation_message(VIRTUAL_SERVER_TOGGLED, virtual.name, virtual.active))
    return back_to(request, "virtualservers:virtual_list")


# --- MONITORING SCRIPTS -------------------------------------------------------------------------


def _script(virtual: VirtualServer) -> MonitoringScript:
    """The virtual's script; an unsaved one (with nothing to send or expect, which is what
    lvs.cf then says) when the virtual came from an import without one."""
    try:
        return virtual.monitoring_script
    except MonitoringScript.DoesNotExist:
        return MonitoringScript(virtual_server=virtual, send=None, expect=None)


def _script_page(request: HttpRequest, virtual: VirtualServer, **options) -> HttpResponse:
    script = _script(virtual)
    options.setdefault(
        "message", lambda _row: _("Monitoring script of %(name)s accepted.") % {"name": virtual}
    )
    return edit_page(
        request,
        MonitoringScriptForm,
        instance=script,
        lvs_cf_section=VIRTUAL,
        template="virtualservers/monitoring_script.html",
        tab="virtual",
        context={"virtual": virtual, "subtab": "monitoring", "script": script},
        success_url=reverse("virtualservers:monitoring_script", args=[virtual.pk]),
        cancel_url="virtualservers:virtual_list",
        **options,
    )


@require_http_methods(["GET", "POST"])
@requires(CHANGE_DRAFT)
def monitoring_script(request: HttpRequest, virtual_pk: int) -> HttpResponse:
    return _script_page(request, get_object_or_404(VirtualServer, pk=virtual_pk))


# Piranha's BLANK SEND / BLANK EXPECT / NO SEND PROGRAM: the key disappears from lvs.cf.
# The messages are marked here for makemessages and translated when shown.
BLANKS = {
    "send": ("send", None, gettext_noop("Send blanked.")),
    "expect": ("expect", None, gettext_noop("Expect blanked.")),
    "program": ("send_program", "", gettext_noop("Sending program removed.")),
}


@require_POST
@requires(CHANGE_DRAFT)
def monitoring_blank(request: HttpRequest, virtual_pk: int, what: str) -> HttpResponse:
    if what not in BLANKS:
        raise Http404("Nothing to blank.")
    virtual = get_object_or_404(VirtualServer, pk=virtual_pk)
    field, value, message = BLANKS[what]
    if "kind" in request.POST:
        # Pressed on the page: save what was typed in the other fields too (as ACCEPT would),
        # or show their errors with this field blanked and save nothing.
        data = request.POST.copy()
        data[field] = ""
        return _script_page(request, virtual, data=data, message=lambda _row: _(message))
    script = _script(virtual)
    setattr(script, field, value)
    script.save()
    saved(request, _(message))
    return redirect("virtualservers:monitoring_script", virtual.pk)
