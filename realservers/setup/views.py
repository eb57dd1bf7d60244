"""The Set up pages: one real server's set-up, and every real server of a virtual server, from
the published lvs.cf. Read-only (GET), so every logged-in user, a viewer too, may see them; the
login and the client allowlist are the site's middleware, as for every view."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_safe

from realservers.models import RealServer
from realservers.setup.plan import ARP_METHODS, FORMATS, SetupError, plan_for_real, plan_for_virtual
from realservers.setup.published import default_arp_method, mysql_checks, published
from realservers.setup.render import ARP_LABELS, NETWORK_LABELS, filename, render
from virtualservers.i18n import Wording
from virtualservers.models import VirtualServer
from virtualservers.tabs import render_tab

# The generator (plan.py, Django-free) words its notes and refusals in English, as the script's
# comments and the command print them; the page shows them in the reader's language.
SETUP_WORDS = Wording(
    [
        gettext_noop("network is nat but lvs.cf has no nat_router: the gateway cannot be checked"),
        gettext_noop(
            "IPv6 has no ARP: an IPv6 VIP on lo is not announced (neighbour discovery answers "
            "only for the receiving interface's addresses)"
        ),
        gettext_noop("these real servers have no address in the published lvs.cf"),
    ],
    [
        (
            r"^virtual server (?P<name>\S+) has no VIP: nothing to set up for it$",
            gettext_noop("virtual server %(name)s has no VIP: nothing to set up for it"),
        ),
        (
            r"^(?P<vip>\S+) \(virtual server (?P<name>\S+)\) is IPv6: set up ip6tnl by hand$",
            gettext_noop("%(vip)s (virtual server %(name)s) is IPv6: set up ip6tnl by hand"),
        ),
        (
            r"^no real server (?P<name>.+) in the published lvs.cf$",
            gettext_noop("no real server %(name)s in the published lvs.cf"),
        ),
        (
            r"^no virtual server (?P<name>.+) in the published lvs.cf$",
            gettext_noop("no virtual server %(name)s in the published lvs.cf"),
        ),
        (
            r"^virtual server (?P<name>.+) has no real servers in the published lvs.cf$",
            gettext_noop("virtual server %(name)s has no real servers in the published lvs.cf"),
        ),
    ],
)


def _arp(request: HttpRequest) -> str:
    chosen = request.GET.get("arp", "")
    return chosen if chosen in ARP_METHODS else default_arp_method()


def _setup_page(
    request: HttpRequest, virtual: VirtualServer, real: RealServer | None
) -> HttpResponse:
    arp = _arp(request)
    current = published()
    context = {
        "virtual": virtual,
        "real": real,
        "subtab": "real",
        "arp": arp,
        "arp_choices": [(name, _(ARP_LABELS[name])) for name in ARP_METHODS],
        "published": current,
        "problem": current.problem,
    }
    if current.config is not None:
        try:
            if real is not None:
                # The published file knows the server by its virtual's and its own name.
                plan = plan_for_real(
                    current.config,
                    f"{virtual.name}/{real.name}",
                    arp=arp,
                    mysql_checks=mysql_checks(),
                )
            else:
                plan = plan_for_virtual(
                    current.config, virtual.name, arp=arp, mysql_checks=mysql_checks()
                )
        except SetupError as exc:
            context["problem"] = _("%(problem)s. Apply the draft to publish it.") % {
                "problem": SETUP_WORDS.shown(str(exc))
            }
        else:
            fmt = request.GET.get("format", "")
            if fmt in FORMATS:
                return _download(render(plan, fmt), filename(fmt))
            context.update(
                plan=plan,
                notes=[SETUP_WORDS.shown(note) for note in plan.notes],
                network_label=_(NETWORK_LABELS.get(plan.network, plan.network)),
                texts=[(fmt, filename(fmt), render(plan, fmt)) for fmt in FORMATS],
            )
    if request.GET.get("format") and context["problem"]:
        # A download of nothing: say why as text rather than save an HTML page as a script.
        return HttpResponse(context["problem"] + "\n", status=404, content_type="text/plain")
    return render_tab(request, "realservers/setup.html", "virtual", context)


def _download(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_safe
def real_setup(request: HttpRequest, virtual_pk: int, pk: int) -> HttpResponse:
    real = get_object_or_404(
        RealServer.objects.select_related("virtual_server"), pk=pk, virtual_server_id=virtual_pk
    )
    return _setup_page(request, real.virtual_server, real)


@require_safe
def virtual_setup(request: HttpRequest, virtual_pk: int) -> HttpResponse:
    virtual = get_object_or_404(VirtualServer, pk=virtual_pk)
    return _setup_page(request, virtual, None)
