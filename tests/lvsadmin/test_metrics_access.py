"""/metrics has its own access rule (a bearer token, its own allowlist, or both) instead of the
GUI's allowlist and login: the login cookie never opens it, and it answers GET only."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from lvsadmin import metrics

pytestmark = pytest.mark.django_db
TOKEN = "a-long-random-scrape-token-0123456789"


def scrape(client: Client | None = None, token: str | None = TOKEN, method: str = "get"):
    client = client or Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return getattr(client, method)("/metrics", **headers)


@pytest.fixture
def token(settings):
    settings.LVSADMIN_METRICS_TOKEN = TOKEN


@pytest.fixture
def logged_in() -> Client:
    user = get_user_model().objects.create_superuser("piranha", password="x-Long-Secret-1")
    client = Client()
    client.force_login(user)
    return client


def test_it_answers_404_to_everyone_until_a_token_or_an_allowlist_is_set(logged_in):
    assert scrape(token=None).status_code == 404
    assert scrape(token="anything").status_code == 404
    response = scrape(logged_in, token=None)
    assert response.status_code == 404 and b"not enabled" in response.content


def test_it_serves_the_exposition_format_with_the_right_token(token):
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"lvsadmin_director_role" in response.content
    assert "sessionid" not in response.cookies


def test_it_refuses_a_wrong_or_missing_token(token):
    assert scrape(token="wrong").status_code == 403
    assert scrape(token=TOKEN[:-1]).status_code == 403
    assert scrape(token=TOKEN + "x").status_code == 403
    assert scrape(token="").status_code == 403
    assert scrape(token=None).status_code == 403
    basic = Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    assert basic.status_code == 403


def test_the_login_cookie_never_opens_metrics(token, logged_in):
    response = scrape(logged_in, token=None)
    assert response.status_code == 403
    assert b"bearer token" in response.content


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "head", "options"])
def test_it_answers_get_only(token, method):
    response = scrape(method=method)
    assert response.status_code == 405  # not a CSRF 403: refused before any other middleware
    assert response["Allow"] == "GET"


def test_its_allowlist_admits_a_scraper_outside_the_gui_allowlist(settings):
    settings.LVSADMIN_METRICS_ALLOWED_IPS = ["198.51.100.0/24"]
    assert scrape(Client(REMOTE_ADDR="198.51.100.7"), token=None).status_code == 200
    # That address still reaches nothing else, and the GUI's own addresses do not scrape.
    assert Client(REMOTE_ADDR="198.51.100.7").get("/accounts/login/").status_code == 403
    assert scrape(Client(REMOTE_ADDR="127.0.0.1"), token=None).status_code == 403
    assert scrape(Client(REMOTE_ADDR="203.0.113.9"), token=None).status_code == 403


def test_with_both_set_a_scrape_needs_both(settings, token):
    settings.LVSADMIN_METRICS_ALLOWED_IPS = ["198.51.100.0/24"]
    assert scrape(Client(REMOTE_ADDR="198.51.100.7")).status_code == 200
    assert scrape(Client(REMOTE_ADDR="198.51.100.7"), token=None).status_code == 403
    assert scrape(Client(REMOTE_ADDR="203.0.113.9")).status_code == 403


def test_only_the_exact_path_has_its_own_rule(settings, token):
    settings.LVSADMIN_METRICS_ALLOWED_IPS = ["198.51.100.0/24"]
    outside = Client(REMOTE_ADDR="198.51.100.7")
    for path in ("/metrics/", "/metrics.txt", "/Metrics", "/live/"):
        response = outside.get(path, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 403, path
        assert b"not allowed to use lvsadmin" in response.content


def test_the_view_applies_the_rule_itself(settings, token):
    # Reached without the middleware (another URL, another middleware order), it still refuses.
    request = RequestFactory().get("/elsewhere")
    assert metrics.metrics(request).status_code == 403
    request = RequestFactory().get("/elsewhere", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert metrics.metrics(request).status_code == 200


def write_token_file(path, mode=0o640, uid=0):
    path.write_text(TOKEN + "\n")
    os.chmod(path, mode)
    os.chown(path, uid, 0)
    return path


def test_it_reads_the_token_from_a_root_owned_file(settings, tmp_path):
    settings.LVSADMIN_METRICS_TOKEN_FILE = str(write_token_file(tmp_path / "token"))
    assert scrape().status_code == 200
    assert scrape(token="wrong").status_code == 403


@pytest.mark.parametrize(("mode", "uid"), [(0o660, 0), (0o642, 0), (0o600, 65534)])
def test_it_refuses_every_scrape_when_the_token_file_is_not_roots_alone(
    settings, tmp_path, mode, uid
):
    settings.LVSADMIN_METRICS_TOKEN_FILE = str(write_token_file(tmp_path / "token", mode, uid))
    assert scrape().status_code == 403


def test_a_missing_token_file_refuses_rather_than_opens(settings, tmp_path):
    settings.LVSADMIN_METRICS_TOKEN_FILE = str(tmp_path / "absent")
    assert scrape().status_code == 403
    assert scrape(token="").status_code == 403
