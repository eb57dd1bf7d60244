"""Who may use the API: one token per user (rest_framework.authtoken), checked before Django's
login-required gate, and the roles of the GUI.

Tokens are made by `manage.py apitoken`, in /admin/ (Tokens), or by the user for themselves
(POST /api/token/); every creation and revocation goes into the audit trail, whatever made it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission

from monitoring.publish import audit

API_NAMESPACE = "api"
# A view's `required_permission` for changes anyone logged in may make to their own account.
OWN_ACCOUNT = "own account"


def _refused(detail: str) -> HttpResponse:
    response = JsonResponse({"detail": str(detail)}, status=401)
    response["WWW-Authenticate"] = TokenAuthentication.keyword
    return response


class ApiTokenMiddleware:
    """Placed just before django.contrib.auth's LoginRequiredMiddleware: a request to an API view
    that carries a valid `Authorization: Token <key>` becomes that user's, so the login gate lets
    it through; an API request with no valid token and no session gets a 401 in JSON (a script
    has no use for the login page). Nothing outside the API is touched, so a token opens no
    page of the GUI. The client-IP allowlist ran before this, for the API as for every page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or API_NAMESPACE not in match.namespaces:
            return None
        if get_authorization_header(request):
            try:
                found = TokenAuthentication().authenticate(request)
            except AuthenticationFailed as exc:
                return _refused(exc.detail)
            if found is not None:
                # A token wins over a session cookie sent alongside it, as in the API's own
                # authentication order, so the audit trail and the checks see one user.
                request.user = found[0]
        if not request.user.is_authenticated:
            return _refused(NotAuthenticated.default_detail)
        return None


class RoleRequired(BasePermission):
    """Reading is open to every logged-in account, as in the GUI; any other method needs the
    view's `required_permission`, the one the GUI's button needs, with the GUI's refusal."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        permission = getattr(view, "required_permission", None)
        if permission == OWN_ACCOUNT:
            return True
        if permission is None or not user.has_perm(permission):
            self.message = _("Your role does not allow this (%(permission)s).") % {
                "permission": permission
            }
            return False
        return True


# --- Tokens -------------------------------------------------------------------------------------


def issue_token(user: AbstractBaseUser) -> Token:
    """A new token for `user`, replacing the one they had (a user has one token)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def revoke_token(user: AbstractBaseUser) -> bool:
    """Delete `user`'s token; False when they had none."""
    deleted, _by_model = Token.objects.filter(user=user).delete()
    return bool(deleted)


def _token_saved(sender, instance: Token, created: bool, **kwargs) -> None:
    if created:
        audit.record("add token", f"user {instance.user.get_username()}", summary="API token")


def _token_deleted(sender, instance: Token, **kwargs) -> None:
    # Never the key itself: the trail is readable by every role.
    audit.record("revoke token", f"user {instance.user.get_username()}", summary="API token")


def connect() -> None:
    # The admin saves and deletes through the proxy model, which sends its own signals.
    for model in (Token, TokenProxy):
        uid = f"audit-{model._meta.label}"
        post_save.connect(_token_saved, sender=model, dispatch_uid=uid)
        post_delete.connect(_token_deleted, sender=model, dispatch_uid=uid)
