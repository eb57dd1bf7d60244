"""What the API's tests share: accounts in each role with a token, a client speaking JSON with
that token, and a small draft (one virtual server, two real servers)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.authtoken.models import Token

from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

ROLES = ("viewer", "operator", "administrator")


def member(role: str | None, name: str | None = None) -> User:
    user = User.objects.create_user(name or role or "plain", password="a long passphrase 77")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


class ApiClient(Client):
    """JSON in, JSON out, with `Authorization: Token <key>` on every request."""

    def __init__(self, key: str | None = None, **defaults) -> None:
        if key is not None:
            defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
        super().__init__(**defaults)

    def post(self, path, data=None, **extra):
        return super().post(path, data, content_type="application/json", **extra)

    def patch(self, path, data=None, **extra):
        return super().patch(path, data, content_type="application/json", **extra)


def api_client(user: User, **defaults) -> ApiClient:
    return ApiClient(Token.objects.create(user=user).key, **defaults)


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"


@pytest.fixture
def draft() -> dict:
    vs = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(virtual_server=vs)
    db1 = RealServer.objects.create(virtual_server=vs, name="db1", address="192.0.2.241")
    db2 = RealServer.objects.create(
        virtual_server=vs, name="db2", address="192.0.2.242", position=1, active=True
    )
    return {"virtual": vs, "db1": db1, "db2": db2}


def real_url(real: RealServer, action: str = "") -> str:
    tail = f"{action}/" if action else ""
    return f"/api/virtualservers/{real.virtual_server_id}/realservers/{real.pk}/{tail}"
