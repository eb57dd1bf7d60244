"""GET /peer/revision: only a request signed with the shared secret gets the latest revision,
signed; no login opens it, nothing else on the path answers."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import Revision
from monitoring.peersync import signing
from monitoring.peersync.follow import PEER_PATH, digest

pytestmark = pytest.mark.django_db
SECRET = "p" * 64


@pytest.fixture(autouse=True)
def secret_file(settings, tmp_path):
    path = tmp_path / "peer-secret"
    path.write_text(SECRET + "\n")
    path.chmod(0o640)
    settings.LVSADMIN_PEER_SECRET_FILE = path
    return path


def signed_get(client=None, secret=SECRET, now=None, **extra):
    headers = signing.sign_request(secret.encode(), "GET", PEER_PATH, now or time.time())
    response = (client or Client()).get(PEER_PATH, headers=headers, **extra)
    return response, headers


def test_the_path_is_the_one_the_follower_asks():
    assert reverse("monitoring:peer_revision") == PEER_PATH


def test_a_signed_request_gets_the_latest_revision_with_a_signed_answer():
    Revision.objects.create(serial_no=41, text="serial_no = 41\n")
    Revision.objects.create(serial_no=42, text="serial_no = 42\n", checks={"web": {"kind": "tcp"}})
    response, headers = signed_get()
    assert response.status_code == 200
    signing.verify_response(
        SECRET.encode(), headers[signing.NONCE], response.headers, response.content, time.time()
    )
    data = json.loads(response.content)
    assert (data["serial"], data["text"]) == (42, "serial_no = 42\n")
    assert data["digest"] == digest("serial_no = 42\n", {"web": {"kind": "tcp"}})
    assert "no-store" in response["Cache-Control"]


def test_nothing_published_is_a_signed_empty_answer():
    response, _headers = signed_get()
    assert response.status_code == 200 and json.loads(response.content) == {"serial": None}


def test_an_unsigned_request_is_refused_even_with_a_login(admin_client):
    Revision.objects.create(serial_no=1, text="serial_no = 1\n")
    for client in (Client(), admin_client):
        response = client.get(PEER_PATH)
        assert response.status_code == 403
        assert b"serial_no" not in response.content


def test_a_request_signed_with_another_secret_is_refused():
    response, _headers = signed_get(secret="q" * 64)
    assert response.status_code == 403 and b"does not match" in response.content


def test_a_replayed_request_is_refused():
    headers = signing.sign_request(SECRET.encode(), "GET", PEER_PATH, time.time())
    assert Client().get(PEER_PATH, headers=headers).status_code == 200
    response = Client().get(PEER_PATH, headers=headers)
    assert response.status_code == 403 and b"replayed" in response.content


def test_a_request_from_a_skewed_clock_is_refused():
    response, _headers = signed_get(now=time.time() - 30)
    assert response.status_code == 403 and b"clocks disagree" in response.content


def test_only_get_is_answered():
    headers = signing.sign_request(SECRET.encode(), "POST", PEER_PATH, time.time())
    assert Client().post(PEER_PATH, headers=headers).status_code == 405


def test_an_address_outside_the_peer_networks_is_refused(settings):
    settings.LVSADMIN_PEER_ALLOWED_NETWORKS = ["192.0.2.10/32"]
    response, _headers = signed_get()
    assert response.status_code == 403 and b"not a peer director" in response.content
    settings.LVSADMIN_PEER_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert signed_get()[0].status_code == 200


def test_the_gui_allowlist_still_comes_first(settings):
    # A signature does not open the director to an address the GUI's allowlist refuses.
    response, _headers = signed_get(REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403 and b"not allowed to use lvsadmin" in response.content


def test_without_a_usable_secret_nothing_is_served(secret_file):
    secret_file.chmod(0o644)
    response, _headers = signed_get()
    assert response.status_code == 403 and b"not set up" in response.content


def test_a_standby_that_has_the_latest_gets_no_text_and_a_stale_one_gets_it_all():
    Revision.objects.create(serial_no=42, text="serial_no = 42\n")
    full, _headers = signed_get()
    have = f"/peer/revision?have=42:{json.loads(full.content)['digest']}"
    headers = signing.sign_request(SECRET.encode(), "GET", have, time.time())
    response = Client().get(have, headers=headers)
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "serial": 42,
        "digest": digest("serial_no = 42\n", {}),
        "unchanged": True,
    }
    stale = "/peer/revision?have=41:0000"
    headers = signing.sign_request(SECRET.encode(), "GET", stale, time.time())
    assert json.loads(Client().get(stale, headers=headers).content)["text"] == "serial_no = 42\n"


def test_the_query_is_part_of_what_is_signed():
    Revision.objects.create(serial_no=42, text="serial_no = 42\n")
    headers = signing.sign_request(SECRET.encode(), "GET", PEER_PATH, time.time())
    response = Client().get(PEER_PATH + "?have=42:0000", headers=headers)
    assert response.status_code == 403 and b"does not match" in response.content
