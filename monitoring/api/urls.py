"""/api/: every URL needs a token or a session (ApiTokenMiddleware), and a change needs the role
the GUI's button needs."""

from django.urls import path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView

from monitoring.api import setup, views

app_name = "api"


def endpoint(view_class: type[views.ApiView], **initkwargs):
    """The view, marked as the GUI's views are: one that changes something carries the
    permission it needs (tests/lvsadmin/test_roles.py looks for it), one that only reads
    answers 405 to any other method before it looks at who is asking."""
    view = view_class.as_view(**initkwargs)
    permission = initkwargs.get("required_permission", view_class.required_permission)
    if permission is None:
        return require_safe(view)
    view.required_permission = permission
    return view


def action_paths(prefix: str, view_class: type[views.ApiView], actions: dict, name: str):
    """One URL per action (`<prefix><action>/`), each with the permission that action needs."""
    return [
        path(
            f"{prefix}{action}/",
            endpoint(view_class, action_name=action, required_permission=spec.permission),
            name=f"{name}_{action}",
        )
        for action, spec in actions.items()
    ]


VIRTUAL = "virtualservers/<int:pk>/"
REAL = "virtualservers/<int:virtual_pk>/realservers/<int:pk>/"
urlpatterns = [
    path("draft/", endpoint(views.DraftView), name="draft"),
    path("virtualservers/", endpoint(views.VirtualServerList), name="virtual_list"),
    path(VIRTUAL, endpoint(views.VirtualServerDetail), name="virtual"),
    *action_paths(VIRTUAL, views.VirtualServerAction, views.VIRTUAL_SERVER_ACTIONS, "virtual"),
    path(REAL, endpoint(views.RealServerDetail), name="real"),
    *action_paths(REAL, views.RealServerAction, views.REAL_SERVER_ACTIONS, "real"),
    path("revisions/", endpoint(views.RevisionList), name="revision_list"),
    path("revisions/<int:serial>/", endpoint(views.RevisionDetail), name="revision"),
    path("publish/", endpoint(views.Publish), name="publish"),
    path("live/", endpoint(views.LiveView), name="live"),
    path("token/", endpoint(views.OwnToken), name="api_token"),
    path(f"{VIRTUAL}setup/", endpoint(setup.VirtualServerSetup), name="virtual_setup"),
    path(f"{REAL}setup/", endpoint(setup.RealServerSetup), name="real_setup"),
    path("schema/", require_safe(SpectacularAPIView.as_view()), name="schema"),
]
