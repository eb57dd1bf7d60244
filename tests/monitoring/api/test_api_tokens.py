"""Token authentication: no token, no data; a token opens the API and nothing else; a user sees,
replaces and revokes their own token; tokens come from `manage.py apitoken` too."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.authtoken.models import Token

from monitoring.models import AuditEntry
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    ApiClient,
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db
READS = ["/api/draft/", "/api/virtualservers/", "/api/revisions/", "/api/live/", "/api/schema/"]


@pytest.mark.parametrize("url", READS)
def test_a_request_without_a_token_gets_401_and_no_data(draft, url):  # noqa: F811
    response = ApiClient().get(url)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Token"
    assert b"192.0.2" not in response.content and b"mysql" not in response.content


def test_a_wrong_token_gets_401_and_changes_nothing(draft):  # noqa: F811
    response = ApiClient("0" * 40).post(real_url(draft["db1"], "activate"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    draft["db1"].refresh_from_db()
    assert draft["db1"].active is False


def test_a_token_reads_the_api(draft):  # noqa: F811
    response = api_client(member("viewer")).get("/api/virtualservers/")
    assert response.status_code == 200
    assert response.json()["results"][0]["name"] == "mysql"


def test_a_token_of_an_inactive_user_is_refused(draft):  # noqa: F811
    user = member("administrator")
    client = api_client(user)
    user.is_active = False
    user.save()
    assert client.get("/api/draft/").status_code == 401


def test_a_token_opens_no_page_of_the_gui(draft):  # noqa: F811
    client = api_client(member("administrator"))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302


def test_a_session_reads_the_api_but_needs_csrf_to_change_anything(draft):  # noqa: F811
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member("operator"))
    assert browser.get("/api/schema/").status_code == 200
    response = browser.post(real_url(draft["db1"], "activate"))
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    draft["db1"].refresh_from_db()
    assert draft["db1"].active is False


def test_a_user_sees_replaces_and_revokes_their_own_token():
    user = member("viewer")
    client = api_client(user)
    old = Token.objects.get(user=user).key
    seen = client.get("/api/token/").json()
    assert seen["exists"] and seen["key_prefix"] == old[:8] and "key" not in seen

    made = client.post("/api/token/")
    assert made.status_code == 201
    new = made.json()["key"]
    assert new != old and Token.objects.get(user=user).key == new
    assert client.get("/api/token/").status_code == 401  # the old key stopped working

    client = ApiClient(new)
    assert client.delete("/api/token/").status_code == 204
    assert not Token.objects.filter(user=user).exists()
    assert client.get("/api/token/").status_code == 401


def test_creating_and_revoking_a_token_is_in_the_audit_trail_without_the_key():
    user = member("operator", "alice")
    client = api_client(user, REMOTE_ADDR="127.0.0.9")
    key = client.post("/api/token/").json()["key"]
    ApiClient(key, REMOTE_ADDR="127.0.0.9").delete("/api/token/")
    entries = list(AuditEntry.objects.order_by("id").values_list("username", "address", "action"))
    assert entries[-3:] == [
        ("alice", "127.0.0.9", "revoke token"),
        ("alice", "127.0.0.9", "add token"),
        ("alice", "127.0.0.9", "revoke token"),
    ]
    assert not any(key in str(entry.__dict__) for entry in AuditEntry.objects.all())


def test_the_command_makes_shows_and_revokes_a_users_token():
    user = member("operator", "alice")
    out = io.StringIO()
    call_command("apitoken", "alice", stdout=out)
    key = Token.objects.get(user=user).key
    assert out.getvalue().strip() == key
    assert ApiClient(key).get("/api/draft/").status_code == 200

    out = io.StringIO()
    call_command("apitoken", "alice", stdout=out)  # shown again, not replaced
    assert out.getvalue().strip() == key

    out = io.StringIO()
    call_command("apitoken", "alice", "--rotate", stdout=out)
    assert out.getvalue().strip() != key
    assert ApiClient(key).get("/api/draft/").status_code == 401

    call_command("apitoken", "alice", "--revoke", stdout=io.StringIO())
    assert not Token.objects.filter(user=user).exists()
    entry = AuditEntry.objects.first()
    assert (entry.action, entry.target, entry.address) == ("revoke token", "user alice", "local")


def test_the_command_names_an_unknown_user():
    with pytest.raises(CommandError, match="no user named 'nobody-here'"):
        call_command("apitoken", "nobody-here")


def test_an_administrator_manages_tokens_in_the_admin_and_a_viewer_does_not():
    def admin_client(role: str, name: str) -> Client:
        user = member(role, name)
        user.is_staff = True
        user.save()
        client = Client()
        client.force_login(user)
        return client

    alice = member("operator", "alice")
    boss = admin_client("administrator", "boss")
    response = boss.post("/admin/authtoken/tokenproxy/add/", {"user": alice.pk})
    assert response.status_code == 302
    assert Token.objects.filter(user=alice).exists()
    entry = AuditEntry.objects.first()
    assert (entry.username, entry.action, entry.target) == ("boss", "add token", "user alice")
    viewer = admin_client("viewer", "vera")
    assert viewer.get("/admin/authtoken/tokenproxy/").status_code == 403
    assert (
        Group.objects.get(name="administrator")
        .permissions.filter(codename="delete_tokenproxy")
        .exists()
    )
