"""/api/: every URL needs a token or a session (ApiTokenMiddleware), and a change needs the role
the GUI's button needs."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, register_converter
from django.views import defaults
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView

from monitoring.api import index, setup, views

app_name = "api"

# The largest id SQLite's INTEGER and MariaDB's BIGINT hold: a larger one reached the database
# and raised OverflowError (a 500) instead of being a missing object.
MAX_ID = 2**63 - 1


class IdConverter:
    """A row's id or a revision's serial: digits, at most MAX_ID. Anything else does not match,
    so it falls to `not_found`, the API's JSON 404, before any query."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(value)  # Django's resolver takes a ValueError as "no match"
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")


API_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler404 (lvsadmin/urls.py): an /api/ URL that names nothing (an unknown path,
    an id that is not a number or too large for IdConverter) gets the JSON 404 the schema
    documents, as a missing row does; every other page keeps Django's own 404 page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


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


VIRTUAL = "virtualservers/<id:pk>/"
REAL = "virtualservers/<id:virtual_pk>/realservers/<id:pk>/"
urlpatterns = [
    path("", endpoint(index.IndexView), name="index"),
    path("draft/", endpoint(views.DraftView), name="draft"),
    path("virtualservers/", endpoint(views.VirtualServerList), name="virtual_list"),
    path(VIRTUAL, endpoint(views.VirtualServerDetail), name="virtual"),
    *action_paths(VIRTUAL, views.VirtualServerAction, views.VIRTUAL_SERVER_ACTIONS, "virtual"),
    path(REAL, endpoint(views.RealServerDetail), name="real"),
    *action_paths(REAL, views.RealServerAction, views.REAL_SERVER_ACTIONS, "real"),
    path("revisions/", endpoint(views.RevisionList), name="revision_list"),
    path("revisions/<id:serial>/", endpoint(views.RevisionDetail), name="revision"),
    path("publish/", endpoint(views.Publish), name="publish"),
    path("live/", endpoint(views.LiveView), name="live"),
    path(
        "director/out-of-service/",
        endpoint(views.TakeOutOfService),
        name="director_out_of_service",
    ),
    path("director/in-service/", endpoint(views.PutInService), name="director_in_service"),
    path("token/", endpoint(views.OwnToken), name="api_token"),
    path(f"{VIRTUAL}setup/", endpoint(setup.VirtualServerSetup), name="virtual_setup"),
    path(f"{REAL}setup/", endpoint(setup.RealServerSetup), name="real_setup"),
    path("schema/", require_safe(SpectacularAPIView.as_view()), name="schema"),
    # Swagger UI on the schema, for a browser with a session (without one: the API's 401).
    path(
        "schema/browse/",
        require_safe(index.SchemaBrowser.as_view(url_name="api:schema")),
        name="schema_browser",
    ),
]
