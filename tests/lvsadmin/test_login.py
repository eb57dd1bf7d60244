"""Login: required everywhere, one lockout per account and per client address on every login
path, POST-only logout, cookie flags."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from tests.support.appdb import this_database_env

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")
PASSWORD = "a-long-Secret-42"


PBKDF2 = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    """A fast hasher here (the production one takes a second a password on this machine); the
    parallel test puts the real one back: its slowness is the window the race needs."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    assert b"Too many failed logins for this account or from your address" in response.content
    assert client.get(reverse("monitoring:control")).status_code == 302  # still not logged in


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_it_does_not_lock_out_another_address_or_account(piranha):
    get_user_model().objects.create_user("operator", password=PASSWORD)
    for _ in range(5):
        attempt(Client(REMOTE_ADDR="127.0.0.1"), "wrong")
    other = Client(REMOTE_ADDR="127.0.0.2")
    response = other.post(LOGIN, {"username": "operator", "password": PASSWORD})
    assert response.status_code == 302


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_it_locks_out_an_account_tried_from_many_addresses(piranha):
    for n in range(5):
        attempt(Client(REMOTE_ADDR=f"127.0.0.{n + 1}"), "wrong")
    assert attempt(Client(REMOTE_ADDR="127.0.0.9"), PASSWORD).status_code == 429


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_it_locks_out_an_address_that_tries_many_accounts(piranha):
    client = Client()
    for n in range(5):
        client.post(LOGIN, {"username": f"guess{n}", "password": "wrong"})
    assert attempt(client, PASSWORD).status_code == 429


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_the_admin_login_shares_the_lockout(piranha):
    piranha.is_staff = piranha.is_superuser = True
    piranha.save()
    client = Client()
    for _ in range(5):
        attempt(client, "wrong")
    admin_login = reverse("admin:login")
    for _ in range(8):
        client.post(admin_login, {"username": "piranha", "password": "wrong"})
    response = client.post(admin_login, {"username": "piranha", "password": PASSWORD})
    assert response.status_code == 429
    assert client.get(reverse("monitoring:control")).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 302


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_failures_on_the_admin_login_lock_the_login_page(piranha):
    client = Client()
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": "piranha", "password": "wrong"})
    assert attempt(client, PASSWORD).status_code == 429


@pytest.fixture
def password_checks(monkeypatch):
    """How many times a password was compared with the stored hash (any thread)."""
    checks = []
    for hasher in (MD5PasswordHasher, PBKDF2PasswordHasher):

        def counting(self, password, encoded, verify=hasher.verify):
            checks.append(password)
            return verify(self, password, encoded)

        monkeypatch.setattr(hasher, "verify", counting)
    return checks


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=3)
def test_a_locked_out_client_learns_nothing_about_the_password(piranha, password_checks):
    client = Client()
    for _ in range(3):
        attempt(client, "wrong")
    assert len(password_checks) == 3
    right, wrong = attempt(client, PASSWORD), attempt(client, "wrong")
    assert (right.status_code, right.content) == (wrong.status_code, wrong.content)
    assert len(password_checks) == 3  # refused before any password was hashed


@pytest.mark.django_db(transaction=True)
@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5, PASSWORD_HASHERS=PBKDF2)
def test_parallel_logins_check_at_most_the_limit_and_never_fail(live_server, password_checks):
    get_user_model().objects.create_user("piranha", password=PASSWORD)
    url = live_server.url + LOGIN
    statuses: list[int] = []
    start = threading.Barrier(20)

    def try_once() -> None:
        with requests.Session() as session:
            session.get(url, timeout=60)
            token = session.cookies["csrftoken"]
            start.wait()
            response = session.post(
                url,
                data={"username": "piranha", "password": "wrong", "csrfmiddlewaretoken": token},
                headers={"Referer": url},
                timeout=60,
                allow_redirects=False,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=try_once) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 20
    assert set(statuses) <= {200, 429}, statuses
    assert len(password_checks) <= 5


# One director's web process: wrong passwords for piranha, from the time given, one at a time;
# prints each answer's status.
DIRECTOR = """
import sys, time
import django
from django.test.utils import setup_test_environment
django.setup()
setup_test_environment()
from django.test import Client
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
statuses = [Client().post(sys.argv[3], {"username": "piranha", "password": "wrong"}).status_code
            for _ in range(int(sys.argv[2]))]
print(*statuses)
"""


@pytest.mark.django_db(transaction=True)
def test_two_directors_sharing_the_database_check_at_most_the_limit(tmp_path):
    """Two web processes with their own state directories on one database, as two directors on
    one MariaDB: their attempts at once still reach the password check at most LIMIT times, and
    every failure is counted."""
    get_user_model().objects.create_user("piranha", password=PASSWORD)
    limit, each = 3, 4
    start = time.time() + 4  # both processes are up by then, and begin together
    directors = []
    for name in ("one", "two"):
        env = {
            **os.environ,
            **this_database_env(),
            "LVSADMIN_STATE_DIR": str(tmp_path / name),
            "LVSADMIN_LOGIN_MAX_FAILURES": str(limit),
        }
        directors.append(
            subprocess.Popen(
                [sys.executable, "-c", DIRECTOR, str(start), str(each), LOGIN],
                cwd=Path(__file__).resolve().parents[2],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    statuses = [int(s) for d in directors for s in d.communicate(timeout=120)[0].split()]
    assert [d.returncode for d in directors] == [0, 0]
    # Each password checked is one failure counted; the attempt that reaches the limit is
    # answered as locked out already, every later one is refused before any hash.
    counted = AccessAttempt.objects.get(username="piranha").failures_since_start
    assert counted == limit
    assert sorted(statuses) == [200] * (limit - 1) + [429] * (2 * each - limit + 1), statuses


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=3)
def test_it_lets_the_address_in_again_when_the_lock_expires(piranha):
    client = Client()
    for _ in range(3):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 429
    with override_settings(LVSADMIN_LOGIN_LOCKOUT_SECONDS=900):
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=901))
        assert attempt(client, PASSWORD).status_code == 302


def test_it_forgets_failures_after_a_successful_login(piranha):
    client = Client()
    attempt(client, "wrong")
    assert AccessAttempt.objects.exists()
    attempt(client, PASSWORD)
    assert not AccessAttempt.objects.exists()


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


# --- The Password page's old password ------------------------------------------------------------

PASSWORD_PAGE = reverse("password_change")
NEW = "another long passphrase 9"


def change(client: Client, old: str):
    return client.post(
        PASSWORD_PAGE, {"old_password": old, "new_password1": NEW, "new_password2": NEW}
    )


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_a_session_guessing_the_old_password_is_locked_out_as_a_login_is(piranha):
    # The stock form: eight wrong old passwords, then the right one changed the password.
    client = Client()
    client.force_login(piranha)
    assert [change(client, "wrong").status_code for _ in range(5)] == [200] * 4 + [429]
    response = change(client, PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed logins for this account or from your address" in response.content
    piranha.refresh_from_db()
    assert piranha.check_password(PASSWORD) and not piranha.check_password(NEW)
    # The account itself is locked, from any address.
    assert attempt(Client(REMOTE_ADDR="127.0.0.9"), PASSWORD).status_code == 429


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_wrong_old_passwords_and_wrong_logins_share_one_count(piranha):
    client = Client()
    client.force_login(piranha)
    for _ in range(3):
        change(client, "wrong")
    for _ in range(2):
        attempt(Client(REMOTE_ADDR="127.0.0.9"), "wrong")
    assert change(client, PASSWORD).status_code == 429


def test_the_right_old_password_still_changes_it(piranha):
    client = Client()
    client.force_login(piranha)
    change(client, "wrong")
    response = change(client, PASSWORD)
    assert response.status_code == 302
    piranha.refresh_from_db()
    assert piranha.check_password(NEW)


def test_the_admins_password_change_is_the_counted_page(piranha):
    piranha.is_staff = True
    piranha.save()
    client = Client()
    client.force_login(piranha)
    response = client.get(reverse("admin:password_change"))
    assert (response.status_code, response["Location"]) == (302, PASSWORD_PAGE)
    response = client.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 405  # the stock form, which counted nothing, is gone
    piranha.refresh_from_db()
    assert piranha.check_password(PASSWORD)


@override_settings(LVSADMIN_LOGIN_MAX_FAILURES=5)
def test_a_name_in_other_letter_case_is_one_account_with_one_counter(piranha):
    # On MariaDB's case-insensitive collation "PIRANHA" logs in as piranha; then failures under
    # any spelling must count against that one account. On SQLite it is no account at all.
    spellings = ["PIRANHA", "Piranha", "pIRANHA", "PiRaNhA", "piRANHA"]
    probe = Client(REMOTE_ADDR="127.0.0.40").post(
        LOGIN, {"username": spellings[0], "password": PASSWORD}
    )
    same_account = probe.status_code == 302
    for n, name in enumerate(spellings, start=1):
        Client(REMOTE_ADDR=f"127.0.0.{n}").post(LOGIN, {"username": name, "password": "wrong"})
    expected = 429 if same_account else 302
    assert attempt(Client(REMOTE_ADDR="127.0.0.50"), PASSWORD).status_code == expected
