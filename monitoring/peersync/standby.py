"""While this director is the standby, its GUI is read-only for configuration.

Configuration arrives from the active director (see `follow`); an edit here would be
overwritten by the next followed revision, or worse, win after a takeover without anyone having
applied it. So every view that changes the draft, activates a server, applies or restores
(the views marked with one of the configuration permissions by `virtualservers.tabs.requires`),
and the admin's pages for the configuration models, refuse anything but GET/HEAD/OPTIONS with a
page that says where to edit; templates see the configuration permissions as absent, which
hides the forms' buttons. Runtime operations (a hand-over of the active role) are unaffected.
With no role file (a single director) nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.context_processors import PermWrapper
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from monitoring.bgp.views import bgp_state
from monitoring.peersync import mirror
from monitoring.publish.revisions import PUBLISH_REVISION
from virtualservers.tabs import CHANGE_DRAFT, TOGGLE_SERVER

CONFIGURATION_PERMISSIONS = frozenset({CHANGE_DRAFT, TOGGLE_SERVER, PUBLISH_REVISION})
# Admin pages of these apps edit the configuration (the draft, revisions, checks).
CONFIGURATION_APPS = ("virtualservers", "realservers", "monitoring")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def standby_peer() -> dict[str, Any] | None:
    """{"peer", "url", "follows"} while this director is the standby (follows: a director
    active at once set to follow the editing one, LVSADMIN_FOLLOW_PEER), else None."""
    info = mirror.role()
    if info.role != "standby":
        return None
    url = mirror.peer_url(info)
    return {
        "peer": info.peer or url,
        "url": url + "/" if url else "",
        "follows": info.reason == mirror.FOLLOWS_EDITING,
    }


def changes_configuration(request: HttpRequest, view: Callable[..., Any]) -> bool:
    if request.method in SAFE_METHODS:
        return False
    if getattr(view, "required_permission", None) in CONFIGURATION_PERMISSIONS:
        return True
    match = request.resolver_match
    return bool(
        match
        and match.app_name == "admin"
        and (match.url_name or "").split("_", 1)[0] in CONFIGURATION_APPS
    )


class StandbyReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not changes_configuration(request, view):
            return None
        standby = standby_peer()
        if standby is None:
            return None
        return render(request, "monitoring/standby_refused.html", {"tab": ""}, status=403)


class ReadOnlyPerms(PermWrapper):
    """The user's permissions without the configuration ones (the templates hide the forms)."""

    def __getitem__(self, app_label: str) -> Any:
        inner = super().__getitem__(app_label)

        class _App:
            def __getitem__(self, name: str) -> bool:
                return f"{app_label}.{name}" not in CONFIGURATION_PERMISSIONS and inner[name]

            def __bool__(self) -> bool:
                return bool(inner)

            def __iter__(self):
                return iter(inner)

        return _App()

    def __contains__(self, perm_name: str) -> bool:
        return perm_name not in CONFIGURATION_PERMISSIONS and super().__contains__(perm_name)


def standby_context(request: HttpRequest) -> dict[str, Any]:
    """`standby` for the banner in base.html, and `perms` without the configuration ones."""
    standby = standby_peer()
    if standby is None:
        # Directors active at once: the one that follows nobody is where the configuration is
        # edited, and says so on every page (its followers say where to edit).
        return {"editing_director": True} if bgp_state() is not None else {}
    user = getattr(request, "user", None)
    context: dict[str, Any] = {"standby": standby}
    if user is not None:
        context["perms"] = ReadOnlyPerms(user)
    return context
