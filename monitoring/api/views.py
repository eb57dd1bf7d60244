"""The API's views: thin, each over the function the GUI's view calls.

Changes to a server are *actions* (POST .../activate/), one URL each, listed in
REAL_SERVER_ACTIONS and VIRTUAL_SERVER_ACTIONS with the permission they need, each over the
function its GUI button calls (the runtime states drain, maintenance and return included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import models
from django.forms.models import model_to_dict
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.api import rows
from monitoring.api import serializers as s
from monitoring.api.auth import OWN_ACCOUNT, issue_token, revoke_token
from monitoring.api.live_table import live_table
from monitoring.bgp.views import set_service
from monitoring.live import states as runtime
from monitoring.live.views import DONE as RUNTIME_DONE
from monitoring.models import Revision
from monitoring.publish import revisions as publish
from monitoring.publish.forms import ApplyForm
from monitoring.publish.revisions import PUBLISH_REVISION
from realservers.forms import RealServerForm
from realservers.models import RealServer
from virtualservers.activation import (
    REAL_SERVER_TOGGLED,
    VIRTUAL_SERVER_TOGGLED,
    activation_message,
    set_active,
)
from virtualservers.lvsconf.model import DEFAULT_PORT, RealServerRef
from virtualservers.models import GlobalSettings, Redundancy, VirtualServer
from virtualservers.tabs import CHANGE_DRAFT, TOGGLE_SERVER

REFUSED = {
    401: OpenApiResponse(s.ErrorSerializer, description="No token (or session), or a bad one."),
    403: OpenApiResponse(s.ErrorSerializer, description="The role does not allow this."),
}
NOT_FOUND = {404: OpenApiResponse(s.ErrorSerializer, description="No such object.")}
# A list's `page` that is not a page number (?page=null) or past the last page: DRF's
# pagination answers 404 "Invalid page.", which the schema did not document.
NO_PAGE = {404: OpenApiResponse(s.ErrorSerializer, description="Invalid page.")}
# Longer than any page number can be (and far from int()'s limit on digit strings).
_PAGE_DIGITS = 19


def form_errors(form: forms.BaseForm) -> dict[str, list[str]]:
    """The form's messages by field, as the GUI shows them beside each field (a message about
    the whole form under DRF's usual "non_field_errors")."""
    return {
        ("non_field_errors" if name == "__all__" else name): [error["message"] for error in errors]
        for name, errors in form.errors.get_json_data().items()
    }


# What a JSON value must be for a form field of each kind (the GUI posts strings; a JSON
# client sends numbers and booleans too). A list or an object fits no field: before this, a
# CharField took `["x"]` as the string "['x']".
def _type_error(field: forms.Field, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(field, forms.BooleanField):
        return None if isinstance(value, bool) else _("Expected true or false.")
    if isinstance(field, forms.IntegerField):
        number = isinstance(value, (int, float, str)) and not isinstance(value, bool)
        return None if number else _("Expected a number.")
    return None if isinstance(value, str) else _("Expected a string.")


# DRF's own words for a null where none is taken: `{"weight": null}` used to store no weight.
NOT_NULL = gettext_lazy("This field may not be null.")


def form_data(form_class: type[forms.BaseForm], data: Any) -> dict[str, Any]:
    """The request's body checked against the form's fields: a JSON object, of the fields the
    form edits only (a key it does not edit is refused by name, so a typo never passes as
    "nothing to change"), each of a JSON type the field takes, null only where it means
    something (serializers.NULLABLE)."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Expected a JSON object.")]})
    fields = list(form_class.base_fields)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        allowed = ", ".join(fields)
        message = _("Not a field this can change (it changes %(fields)s).") % {"fields": allowed}
        raise ValidationError({name: [message] for name in unknown})
    nullable = s.NULLABLE.get(form_class, frozenset())
    wrong = {
        name: [error]
        for name, value in data.items()
        if (
            error := (
                NOT_NULL
                if value is None and name not in nullable
                else _type_error(form_class.base_fields[name], value)
            )
        )
    }
    if wrong:
        raise ValidationError(wrong)
    return dict(data)


def bound_form(
    form_class: type[forms.ModelForm], instance: models.Model, data: Any
) -> forms.ModelForm:
    """`form_class` filled as the GUI's page would post it: the row's current values, with the
    fields in `data` replaced (a PATCH names only what it changes), checked by form_data."""
    changes = form_data(form_class, data)
    fields = list(form_class.base_fields)
    current = model_to_dict(instance, fields=fields)
    posted = {**current, **changes}
    return form_class({k: "" if v is None else v for k, v in posted.items()}, instance=instance)


class ApiView(APIView):
    # What a change (any method but GET/HEAD/OPTIONS) needs: a permission of the GUI's roles,
    # OWN_ACCOUNT, or None for a view that only reads.
    required_permission: str | None = None


# --- The draft ----------------------------------------------------------------------------------


class DraftView(ApiView):
    @extend_schema(
        summary="The whole draft: global settings, redundancy, and every virtual server with its "
        "real servers and monitoring script; and what Apply would change.",
        responses={200: s.DraftSerializer, **REFUSED},
    )
    def get(self, request: Request) -> Response:
        pending, error = "", ""
        try:
            pending = publish.pending_diff()
        except publish.PublishError as exc:
            error = str(exc)
        draft = {
            "global_settings": s.GlobalSettingsSerializer(GlobalSettings.load()).data,
            "redundancy": s.RedundancySerializer(Redundancy.load()).data,
            "pending_diff": pending,
            "draft_error": error,
            "virtual_servers": rows.virtual_servers(),
        }
        return Response(draft)


@extend_schema(
    summary="The virtual servers, with their real servers and monitoring scripts.",
    responses={200: s.VirtualServerSerializer(many=True), **REFUSED, **NO_PAGE},
)
class VirtualServerList(ApiView, generics.ListAPIView):
    serializer_class = s.VirtualServerSerializer

    def get_queryset(self):
        return VirtualServer.objects.order_by("position", "id").values_list("id", flat=True)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(rows.virtual_servers(page))


def _virtual_data(pk: int) -> dict[str, Any]:
    found = rows.virtual_servers([pk])
    if not found:
        raise Http404(_("No such virtual server."))
    return found[0]


class VirtualServerDetail(ApiView):
    @extend_schema(
        summary="One virtual server, with its real servers and monitoring script.",
        responses={200: s.VirtualServerSerializer, **REFUSED, **NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_virtual_data(pk))


def _real(virtual_pk: int, pk: int) -> RealServer:
    return get_object_or_404(
        RealServer.objects.select_related("virtual_server"), pk=pk, virtual_server_id=virtual_pk
    )


class RealServerDetail(ApiView):
    required_permission = CHANGE_DRAFT

    @extend_schema(
        summary="One real server of a virtual server.",
        responses={200: s.RealServerSerializer, **REFUSED, **NOT_FOUND},
    )
    def get(self, request: Request, virtual_pk: int, pk: int) -> Response:
        return Response(s.RealServerSerializer(_real(virtual_pk, pk)).data)

    @extend_schema(
        summary="Change a real server (name, address, port, weight) in the draft, validated by "
        "the REAL SERVER form with its messages. Administrator.",
        request=s.RealServerChangeSerializer,
        responses={
            200: s.RealServerSerializer,
            400: OpenApiResponse(description="The form's errors, by field name."),
            **REFUSED,
            **NOT_FOUND,
        },
    )
    def patch(self, request: Request, virtual_pk: int, pk: int) -> Response:
        form = bound_form(RealServerForm, _real(virtual_pk, pk), request.data)
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        return Response(s.RealServerSerializer(form.save()).data)


# --- Actions: (de)activate, and the place for runtime states ------------------------------------


@dataclass(frozen=True)
class Action:
    """A button on a server's row: the permission it needs, what it does (`run` returns whether
    anything changed: a repeated action changes and records nothing) and what the GUI then
    says (`message`)."""

    permission: str
    run: Callable[[Any], bool]
    message: Callable[[Any], str]
    summary: str


def activation(sentence: str, active: bool, summary: str) -> Action:
    """(DE)ACTIVATE as the GUI's button does it (set_active), with the GUI's message."""
    return Action(
        TOGGLE_SERVER,
        lambda server: set_active(server, active),
        lambda server: activation_message(sentence, server.name, server.active),
        summary,
    )


def runtime_state(action: str, summary: str) -> Action:
    """Drain, maintenance, return: runtime states of the published real server (not the draft),
    as the GUI's buttons set them (monitoring.live.states.set_state), with their message."""

    def run(real) -> bool:
        virtual = real.virtual_server
        port = real.port or (virtual.port if virtual.port is not None else DEFAULT_PORT)
        ref = RealServerRef(virtual.name, real.address or "0.0.0.0", port)
        try:
            return runtime.set_state(ref, action).changed
        except runtime.StateRefused as exc:
            raise ValidationError({"detail": str(exc)}) from exc

    return Action(
        runtime.DRAIN_SERVER,
        run,
        lambda real: f"{real.name}: {RUNTIME_DONE[action]}.",
        summary + " Operator.",
    )


REAL_SERVER_ACTIONS: dict[str, Action] = {
    "activate": activation(REAL_SERVER_TOGGLED, True, "Activate a real server (draft)."),
    "deactivate": activation(REAL_SERVER_TOGGLED, False, "Deactivate a real server (draft)."),
    "drain": runtime_state("drain", "Drain a real server: weight 0, its connections go on."),
    "maintenance": runtime_state("maintenance", "Put a real server in maintenance (out)."),
    "return": runtime_state(runtime.RETURN, "Return a real server: health decides again."),
}
VIRTUAL_SERVER_ACTIONS: dict[str, Action] = {
    "activate": activation(VIRTUAL_SERVER_TOGGLED, True, "Activate a virtual server."),
    "deactivate": activation(VIRTUAL_SERVER_TOGGLED, False, "Deactivate a virtual server."),
}


class ActionSchema(AutoSchema):
    """Each action's URL documented with its own summary (they share one view class)."""

    def get_summary(self) -> str | None:
        return self.view.actions[self.view.action_name].summary


class RealServerAction(ApiView):
    action_name = ""
    actions = REAL_SERVER_ACTIONS
    schema = ActionSchema()

    @extend_schema(
        request=None,
        responses={200: s.RealServerActionResultSerializer, **REFUSED, **NOT_FOUND},
    )
    def post(self, request: Request, virtual_pk: int, pk: int) -> Response:
        real = _real(virtual_pk, pk)
        action = self.actions[self.action_name]
        changed = action.run(real)
        return Response(
            {
                "detail": action.message(real),
                "changed": changed,
                "real_server": s.RealServerSerializer(real).data,
            }
        )


class VirtualServerAction(ApiView):
    action_name = ""
    actions = VIRTUAL_SERVER_ACTIONS
    schema = ActionSchema()

    @extend_schema(
        request=None,
        responses={200: s.VirtualServerActionResultSerializer, **REFUSED, **NOT_FOUND},
    )
    def post(self, request: Request, pk: int) -> Response:
        virtual = get_object_or_404(VirtualServer, pk=pk)
        action = self.actions[self.action_name]
        changed = action.run(virtual)
        return Response(
            {
                "detail": action.message(virtual),
                "changed": changed,
                "virtual_server": _virtual_data(pk),
            }
        )


# --- Publishing ---------------------------------------------------------------------------------


@extend_schema(
    summary="Published revisions, newest first (without their lvs.cf).",
    responses={200: s.RevisionSerializer(many=True), **REFUSED, **NO_PAGE},
)
class RevisionList(ApiView, generics.ListAPIView):
    serializer_class = s.RevisionSerializer

    def get_queryset(self):
        return Revision.objects.defer("text", "checks").select_related("created_by")


@extend_schema(
    summary="One published revision with its lvs.cf.",
    responses={200: s.RevisionDetailSerializer, **REFUSED, **NOT_FOUND},
)
class RevisionDetail(ApiView, generics.RetrieveAPIView):
    serializer_class = s.RevisionDetailSerializer
    lookup_field = "serial_no"
    lookup_url_kwarg = "serial"
    queryset = Revision.objects.select_related("created_by")


class Publish(ApiView):
    required_permission = PUBLISH_REVISION

    @extend_schema(
        summary="Apply: publish the draft as the next revision and write lvs.cf. Operator.",
        request=s.PublishRequestSerializer,
        responses={
            201: s.PublishResultSerializer,
            400: OpenApiResponse(description="The form's errors, by field name."),
            409: OpenApiResponse(s.ErrorSerializer, description="Refused; nothing published."),
            **REFUSED,
        },
    )
    def post(self, request: Request) -> Response:
        data = form_data(ApplyForm, request.data)
        form = ApplyForm({k: "" if v is None else v for k, v in data.items()})
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        try:
            revision = publish.publish(request.user, form.cleaned_data["comment"])
        except publish.PublishError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        detail = _("Published lvs.cf serial %(serial)s to %(path)s.") % {
            "serial": revision.serial_no,
            "path": publish.lvs_cf_path(),
        }
        return Response(
            {"detail": detail, "revision": s.RevisionDetailSerializer(revision).data},
            status=status.HTTP_201_CREATED,
        )


# --- This director (BGP mode) ------------------------------------------------------------------


class DirectorService(ApiView):
    """Take this director out of service or put it back (BGP mode), as CONTROL's button does
    (monitoring.bgp.views.set_service)."""

    required_permission = PUBLISH_REVISION
    out = True

    @extend_schema(request=None, responses={200: s.DirectorServiceResultSerializer, **REFUSED})
    def post(self, request: Request) -> Response:
        changed, detail = set_service(self.out)
        return Response({"detail": detail, "changed": changed, "out_of_service": self.out})


@extend_schema_view(
    post=extend_schema(
        summary="Take this director out of service (BGP mode): it withdraws every VIP and the "
        "routers send its flows to the other directors; it stays out until put back. Operator."
    )
)
class TakeOutOfService(DirectorService):
    out = True


@extend_schema_view(
    post=extend_schema(
        summary="Put this director back in service (BGP mode): it announces the VIPs it can "
        "serve again. Operator."
    )
)
class PutInService(DirectorService):
    out = False


# --- The live table -----------------------------------------------------------------------------


class LiveView(ApiView):
    @extend_schema(
        summary="The live IPVS table with each real server's health, as CONTROL/MONITORING "
        "shows it (reported by the worker).",
        parameters=[
            OpenApiParameter("virtual", str, description="Only this virtual server's services."),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1},
                description="Page of services (100 a page); past the last, the last.",
            ),
        ],
        responses={200: s.LiveSerializer, **REFUSED, **NO_PAGE},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        return Response(live_table(params.get("virtual"), _page_number(params.get("page", "1"))))


def _page_number(text: str) -> int:
    """`?page=` as a page number, as the lists take it: anything else (`null`, `0`, `-1`) is
    their 404 "Invalid page." (the live table showed its first page for ?page=null)."""
    if text.isascii() and text.isdigit() and len(text) <= _PAGE_DIGITS and int(text) >= 1:
        return int(text)
    raise NotFound(_("Invalid page."))


# --- One's own token ----------------------------------------------------------------------------


class OwnToken(ApiView):
    required_permission = OWN_ACCOUNT

    def _shown(self, request: Request, key: str | None = None) -> dict[str, Any]:
        token = Token.objects.filter(user=request.user).first()
        shown = {
            "exists": token is not None,
            "created": token.created if token else None,
            "key_prefix": token.key[:8] if token else "",
        }
        return {**shown, "key": key} if key else shown

    @extend_schema(summary="Whether you have a token, and since when.", responses=s.TokenSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._shown(request))

    @extend_schema(
        summary="Make yourself a new token (the old one stops working); the key is shown once.",
        request=None,
        responses={201: s.TokenSerializer, **REFUSED},
    )
    def post(self, request: Request) -> Response:
        token = issue_token(request.user)
        return Response(self._shown(request, token.key), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke your token.", responses={204: None, 404: NOT_FOUND[404], **REFUSED}
    )
    def delete(self, request: Request) -> Response:
        if not revoke_token(request.user):
            return Response({"detail": _("You have no token.")}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
