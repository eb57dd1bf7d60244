"""The Host header is checked, every page carries a Content-Security-Policy, and no page shown to a
logged-in user is stored by the browser or a proxy."""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client():
    user = get_user_model().objects.create_user("piranha", password="a-long-Secret-42")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", [reverse("login"), reverse("monitoring:live_table_text")])
def test_a_foreign_host_header_is_refused(url, user_client):
    # A DNS-rebinding page: evil.example now resolves to the director.
    assert Client().get(url, HTTP_HOST="evil.example").status_code == 400
    assert user_client.get(url, HTTP_HOST="evil.example").status_code == 400


def test_the_directors_own_names_and_addresses_are_accepted_by_default(monkeypatch):
    import lvsadmin.settings as module

    monkeypatch.delenv("LVSADMIN_ALLOWED_HOSTS", raising=False)
    try:
        hosts = importlib.reload(module).ALLOWED_HOSTS
    finally:
        importlib.reload(module)
    assert {"localhost", "127.0.0.1", "[::1]"} <= set(hosts)
    assert "*" not in hosts and "evil.example" not in hosts
    import socket

    assert socket.gethostname().lower() in hosts


def test_allowed_hosts_can_be_set(monkeypatch):
    import lvsadmin.settings as module

    monkeypatch.setenv("LVSADMIN_ALLOWED_HOSTS", "lvs1.example.net, 192.0.2.10")
    try:
        assert importlib.reload(module).ALLOWED_HOSTS == ["lvs1.example.net", "192.0.2.10"]
    finally:
        monkeypatch.delenv("LVSADMIN_ALLOWED_HOSTS")
        importlib.reload(module)


def test_every_page_carries_a_policy_without_inline_code(user_client):
    for response in (
        Client().get(reverse("login")),
        user_client.get(reverse("monitoring:control")),
    ):
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.parametrize(
    "name",
    [
        "monitoring:control",
        "monitoring:live_table_text",
        "virtualservers:global_settings",
        "virtualservers:redundancy",
        "virtualservers:virtual_list",
        "admin:index",
    ],
)
def test_pages_for_a_logged_in_user_are_never_stored(name, user_client):
    user = get_user_model().objects.get()
    user.is_staff = user.is_superuser = True
    user.save()
    response = user_client.get(reverse(name))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_templates_have_no_inline_script_or_style():
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "style=" not in text, path
        assert "<style" not in text, path
        assert "<script>" not in text and "javascript:" not in text, path
