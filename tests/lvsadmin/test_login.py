"""Login: required everywhere, lockout per client IP, POST-only logout, cookie flags."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from lvsadmin.models import LoginFailure

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")
PASSWORD = "a-long-Secret-42"


@pytest.fixture
def piranha():
    return get_user_model().objects.create_user("piranha", password=PASSWORD)


def attempt(client: Client, password: str):
    return client.post(LOGIN, {"username": "piranha", "password": password})


def test_it_sends_an_anonymous_visitor_to_the_login_page(piranha):
    response = Client().get(reverse("monitoring:control"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_it_logs_in_with_the_right_password(piranha):
    client = Client()
    response = attempt(client, PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("monitoring:control")).status_code == 200


def test_it_says_the_password_is_wrong(piranha):
    response = attempt(Client(), "wrong")
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_it_locks_out_an_address_after_five_failures_even_with_the_right_password(piranha):
    client = Client()
    for _ in range(5):
        attempt(client, "wrong")
    response = attempt(client, PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed logins from your address" in response.content
    assert client.get(reverse("monitoring:control")).status_code == 302  # still not logged in


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_it_does_not_lock_out_another_address(piranha):
    for _ in range(5):
        attempt(Client(REMOTE_ADDR="127.0.0.1"), "wrong")
    assert attempt(Client(REMOTE_ADDR="127.0.0.2"), PASSWORD).status_code == 302


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=3)
def test_it_lets_the_address_in_again_when_the_lock_expires(piranha):
    client = Client()
    for _ in range(3):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 429
    LoginFailure.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert attempt(client, PASSWORD).status_code == 302


def test_it_forgets_failures_after_a_successful_login(piranha):
    client = Client()
    attempt(client, "wrong")
    attempt(client, PASSWORD)
    assert not LoginFailure.objects.exists()


def test_it_logs_out_only_by_post(piranha):
    client = Client()
    client.force_login(piranha)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("monitoring:control")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("monitoring:control")).status_code == 302


def test_it_marks_the_session_cookie_httponly_and_samesite(piranha):
    response = attempt(Client(), PASSWORD)
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"


def test_it_marks_cookies_secure_behind_https(monkeypatch):
    import importlib

    import lvsadmin.settings as module

    monkeypatch.setenv("LVSADMIN_HTTPS", "1")
    reloaded = importlib.reload(module)
    try:
        assert reloaded.SESSION_COOKIE_SECURE and reloaded.CSRF_COOKIE_SECURE
        assert reloaded.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    finally:
        monkeypatch.delenv("LVSADMIN_HTTPS")
        importlib.reload(module)
