"""Every URL, every method: an anonymous request never reaches a view (CVE-2013-6492 let POSTs
through because the login was limited to GET)."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from monitoring.models import Revision
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db
PUBLIC = {"login", "static"}  # the login page itself and CSS/JS
OWN_RULE = {"metrics"}  # a bearer token or its own allowlist, never a login (test_metrics_access)
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}


def patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith("admin/"):
                continue  # the admin has its own staff login, tested below
            yield from patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry.name, prefix + str(entry.pattern)


@pytest.fixture
def objects():
    vs = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306, active=False)
    MonitoringScript.objects.create(virtual_server=vs)
    rs = RealServer.objects.create(virtual_server=vs, name="db1", address="192.0.2.241")
    Revision.objects.create(serial_no=1, text="serial_no = 1\n")
    return {
        "pk": vs.pk,
        "vpk": vs.pk,
        "virtual_pk": vs.pk,
        "rpk": rs.pk,
        "real_pk": rs.pk,
        "serial": 1,
        "what": "send",
    }


def fill(route: str, values: dict) -> str:
    if "virtual_pk>" in route:
        # Under a virtual server, pk is a real server's: a different id from the virtual
        # server's on MariaDB, whose ids are not reused after a test's rollback.
        values = {**values, "pk": values["rpk"]}

    def value(match):
        name = match.group(2)
        return str(values.get(name, values["pk"]))

    path = re.sub(r"<(?:(\w+):)?(\w+)>", value, route)
    return "/" + path.lstrip("^").rstrip("$")


def all_urls(values):
    return [
        (name, fill(route, values))
        for name, route in patterns()
        if name not in PUBLIC | OWN_RULE and "(?P" not in route
    ]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_it_never_lets_an_anonymous_request_reach_a_view(objects, method):
    client = Client()
    urls = all_urls(objects)
    assert len(urls) > 15
    for name, url in urls:
        response = getattr(client, method)(url)
        if url.startswith("/api/"):
            # A script is told to authenticate (401), and told nothing else.
            assert response.status_code == 401, (name, url, response.status_code)
            assert response.json() == NO_CREDENTIALS, (name, url)
            continue
        assert response.status_code in (302, 403, 405), (name, url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login")), (name, url)
    assert len([url for _name, url in urls if url.startswith("/api/")]) > 10
    assert VirtualServer.objects.get().active is False
    assert VirtualServer.objects.count() == 1 and RealServer.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_the_url_with_its_own_rule_refuses_an_anonymous_request(objects, settings, method):
    named = [(name, route) for name, route in patterns() if name in OWN_RULE]
    assert [route for _name, route in named] == ["metrics"]
    assert getattr(Client(), method)("/metrics").status_code == 404  # not enabled
    settings.LVSADMIN_METRICS_TOKEN = "a-long-random-scrape-token"
    assert getattr(Client(), method)("/metrics").status_code in (403, 405)


def test_it_refuses_anonymous_post_like_cve_2013_6492(objects):
    client = Client()
    response = client.post(reverse("virtualservers:virtual_toggle", args=[objects["pk"]]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(
        reverse("virtualservers:virtual_edit", args=[objects["pk"]]),
        {"name": "pwned", "address": "192.0.2.66", "port": "80"},
    )
    assert response.status_code == 302
    vs = VirtualServer.objects.get()
    assert (vs.name, vs.address, vs.active) == ("mysql", "192.0.2.240", False)
    assert not client.post(reverse("monitoring:apply")).status_code == 200
    assert Revision.objects.count() == 1


def test_it_keeps_the_admin_behind_a_staff_login(objects):
    response = Client().post(
        "/admin/virtualservers/virtualserver/",
        {"action": "activate", "_selected_action": [objects["pk"]]},
    )
    assert response.status_code == 302
    assert VirtualServer.objects.get().active is False


def test_only_the_login_static_files_and_the_signed_peer_endpoint_skip_the_login():
    # The peer endpoint has no login: it checks the other director's signature itself
    # (tests/monitoring/peersync/test_peersync_views.py); /metrics has its own rule (test_metrics_access);
    # the API's views take a token instead, and answer 401 without one (the test above). Any
    # other view opened up fails here.
    def callbacks(resolver):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if not str(entry.pattern).startswith(("admin/", "api/")):
                    yield from callbacks(entry)
            else:
                yield entry.name, entry.callback

    open_views = {
        name
        for name, view in callbacks(get_resolver())
        if not getattr(view, "login_required", True)
    }
    assert open_views == {"login", None, "peer_revision", "metrics"}  # None: the static files
