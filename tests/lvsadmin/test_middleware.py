"""The client-IP allowlist: the first gate, on every method, with X-Forwarded-For trusted only
from configured proxies."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")


def client_from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "head", "options", "patch"])
def test_it_refuses_an_address_outside_the_allowlist_on_every_method(method):
    response = getattr(client_from("192.0.2.99"), method)(LOGIN)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    if method != "head":
        assert b"192.0.2.99 is not allowed" in response.content
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_it_lets_loopback_reach_the_login_page():
    response = client_from("127.0.0.1").get(LOGIN)
    assert response.status_code == 200
    assert b"lvsadmin login" in response.content


def test_it_lets_ipv6_loopback_in():
    assert client_from("::1").get(LOGIN).status_code == 200


def test_it_treats_an_ipv4_mapped_loopback_as_loopback():
    assert client_from("::ffff:127.0.0.1").get(LOGIN).status_code == 200


def test_it_ignores_a_spoofed_forwarded_for_from_an_untrusted_peer():
    response = client_from("192.0.2.99").get(LOGIN, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403


def test_it_does_not_deny_an_allowed_peer_for_a_forwarded_for_it_was_not_trusted_with():
    response = client_from("127.0.0.1").get(LOGIN, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 200


@override_settings(
    LVSADMIN_TRUSTED_PROXIES=["198.51.100.1/32", "198.51.100.2/32"],
    LVSADMIN_ALLOWED_NETWORKS=["203.0.113.0/24"],
)
def test_it_believes_forwarded_for_from_a_trusted_proxy():
    proxy = client_from("198.51.100.1")
    assert proxy.get(LOGIN, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200
    assert proxy.get(LOGIN, HTTP_X_FORWARDED_FOR="192.0.2.50").status_code == 403


@override_settings(
    LVSADMIN_TRUSTED_PROXIES=["198.51.100.1/32", "198.51.100.2/32"],
    LVSADMIN_ALLOWED_NETWORKS=["203.0.113.0/24"],
)
def test_it_walks_a_chain_of_trusted_proxies_from_the_right():
    proxy = client_from("198.51.100.1")
    # A client-supplied leftmost hop cannot smuggle an allowed address past the real client.
    chain = "203.0.113.9, 192.0.2.50, 198.51.100.2"
    assert proxy.get(LOGIN, HTTP_X_FORWARDED_FOR=chain).status_code == 403
    assert (
        proxy.get(LOGIN, HTTP_X_FORWARDED_FOR="192.0.2.50, 203.0.113.9, 198.51.100.2").status_code
        == 200
    )


@override_settings(
    LVSADMIN_TRUSTED_PROXIES=["198.51.100.1/32"], LVSADMIN_ALLOWED_NETWORKS=["0.0.0.0/0"]
)
def test_it_denies_when_a_trusted_proxy_sends_a_malformed_forwarded_for():
    assert (
        client_from("198.51.100.1").get(LOGIN, HTTP_X_FORWARDED_FOR="not-an-address").status_code
        == 403
    )


@override_settings(LVSADMIN_ALLOWED_NETWORKS=["not-a-network"])
def test_it_names_a_bad_network_setting():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LVSADMIN_ALLOWED_NETWORKS: 'not-a-network'"):
        client_from("127.0.0.1").get(LOGIN)


@override_settings(
    LVSADMIN_TRUSTED_PROXIES=["127.0.0.2/32"],
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)
@pytest.mark.parametrize("peer, secure", [("127.0.0.1", False), ("127.0.0.2", True)])
def test_only_a_trusted_proxy_can_say_the_request_came_over_https(peer, secure):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from lvsadmin.middleware import ClientIPAllowlistMiddleware

    gate = ClientIPAllowlistMiddleware(lambda request: HttpResponse(str(request.is_secure())))
    request = RequestFactory().get(LOGIN, REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https")
    assert gate(request).content.decode() == str(secure)
