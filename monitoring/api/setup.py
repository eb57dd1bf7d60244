"""/api/ for the real servers' Set up: the texts of the Set up pages (script, unit, SQL) from
the published lvs.cf. Read-only, so a viewer may read them. Kept in a module of its own so that
it adds to the API without changing its other views."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring.api.views import NOT_FOUND, REFUSED, ApiView
from realservers.models import RealServer
from realservers.setup.plan import (
    ARP_METHODS,
    FORMATS,
    SetupError,
    SetupPlan,
    plan_for_real,
    plan_for_virtual,
)
from realservers.setup.published import default_arp_method, mysql_checks, published
from realservers.setup.render import render
from virtualservers.models import VirtualServer

ARP = OpenApiParameter(
    "arp", str, enum=list(ARP_METHODS), description="ARP suppression (default: sysctl)."
)
ANSWER = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="problem (why there is nothing to set up: nothing published, or the server not "
    "in the published lvs.cf; then the texts are empty), serial_no, network, arp, hosts "
    "(address, names, vips), notes, and the texts: script, unit, sql (a stored password never "
    "appears: a placeholder does).",
)


def _problem(problem: str) -> Response:
    """As the page does: 200, saying why there is nothing to set up (nothing published, or the
    server not in the published file yet), and no texts."""
    body: dict[str, Any] = {"problem": problem, "serial_no": None, "hosts": [], "notes": []}
    body.update(dict.fromkeys(FORMATS, ""))
    return Response(body)


def _answer(request: Request, make) -> Response:
    current = published()
    if current.config is None:
        return _problem(current.problem)
    arp = request.query_params.get("arp", "")
    if arp not in ARP_METHODS:
        arp = default_arp_method()
    try:
        plan: SetupPlan = make(current.config, arp=arp, mysql_checks=mysql_checks())
    except SetupError as exc:
        return _problem(_("%(problem)s. Apply the draft to publish it.") % {"problem": exc})
    body: dict[str, Any] = {
        "problem": "",
        "serial_no": plan.serial,
        "network": plan.network,
        "arp": plan.arp,
        "hosts": [
            {"address": h.address, "names": list(h.names), "vips": list(h.vips)} for h in plan.hosts
        ],
        "notes": list(plan.notes),
    }
    body.update({fmt: render(plan, fmt) for fmt in FORMATS})
    return Response(body)


class RealServerSetup(ApiView):
    @extend_schema(
        summary="A real server's set-up (script, systemd unit, MySQL account SQL) from the "
        "published lvs.cf.",
        parameters=[ARP],
        responses={200: ANSWER, **REFUSED, **NOT_FOUND},
    )
    def get(self, request: Request, virtual_pk: int, pk: int) -> Response:
        real = get_object_or_404(
            RealServer.objects.select_related("virtual_server"), pk=pk, virtual_server_id=virtual_pk
        )
        name = f"{real.virtual_server.name}/{real.name}"
        return _answer(request, lambda config, **kw: plan_for_real(config, name, **kw))


class VirtualServerSetup(ApiView):
    @extend_schema(
        summary="The set-up of every real server of a virtual server (one script for all) "
        "from the published lvs.cf.",
        parameters=[ARP],
        responses={200: ANSWER, **REFUSED, **NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        virtual = get_object_or_404(VirtualServer, pk=pk)
        return _answer(request, lambda config, **kw: plan_for_virtual(config, virtual.name, **kw))
