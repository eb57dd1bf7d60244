"""REAL SERVER subtab: the runtime state (drain, maintenance) reads the kernel as CONTROL does,
so it never shows the state from before the action while CONTROL shows the new one."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.live.worker_table import replace_table
from monitoring.models import RealServerHealth, WorkerStatus
from monitoring.publish.revisions import publish
from realservers.models import RealServer
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def virtual(settings, tmp_path, admin_user):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80, active=True)
    RealServer.objects.create(
        virtual_server=virtual, name="web1", address="192.0.2.101", active=True
    )
    publish(admin_user)
    return virtual


def worker_wrote(weight: int | None, health_weight: int | None) -> None:
    """The worker's table (written each pass) and the health row (written less often)."""
    now = timezone.now()
    destinations = []
    if weight is not None:
        destinations.append(
            {"endpoint": "192.0.2.101:80", "address": "192.0.2.101", "port": 80,
             "forward": "Route", "weight": weight, "active": 0, "inact": 0}
        )  # fmt: skip
    table = [{"service": "TCP  192.0.2.100:80", "scheduler": "wlc", "flags": "",
              "virtual": "www", "destinations": destinations}]  # fmt: skip
    WorkerStatus.objects.update_or_create(
        pk=1, defaults={"heartbeat": now, "serial_no": 1, "kernel_ok": True}
    )
    replace_table(table)
    RealServerHealth.objects.update_or_create(
        virtual_name="www", address="192.0.2.101", port=80,
        defaults={"state": "up", "weight": health_weight, "last_check": now, "since": now},
    )  # fmt: skip


def badge(html: str) -> str:
    found = re.search(r'<span class="badge[^"]*">([^<]*)</span>', html)
    return found.group(1) if found else ""


def act(client, virtual, action: str) -> str:
    url = reverse("realservers:real_list", args=[virtual.pk])
    data = {"virtual": "www", "address": "192.0.2.101", "port": "80", "action": action}
    client.post(reverse("monitoring:runtime_state"), {**data, "next": url})
    return url


@pytest.mark.parametrize(
    "action, weight, words",
    [("drain", 0, "drained, ready"), ("maintenance", None, "in maintenance")],
)
def test_the_subtab_shows_the_state_control_shows(admin_client, virtual, action, weight, words):
    worker_wrote(weight=1, health_weight=1)
    url = act(admin_client, virtual, action)
    # The worker applied it: its table says so; the health row is still the one from before.
    worker_wrote(weight=weight, health_weight=1)
    assert badge(admin_client.get(url).content.decode()) == words
    assert words in admin_client.get(reverse("monitoring:control")).content.decode()
