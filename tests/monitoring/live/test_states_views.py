"""The Drain, Maintenance and Return buttons: who sees them, who may press them (POST with CSRF,
operator or higher), the audit entry, and the words in the live table and the REAL SERVER rows."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.live.worker_table import replace_table
from monitoring.models import (
    AuditEntry,
    RealServerHealth,
    RealServerRuntimeState,
    Revision,
    WorkerStatus,
)
from realservers.models import RealServer
from tests.monitoring.live.test_states import SEED
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db
URL = reverse("monitoring:runtime_state")
CONTROL = reverse("monitoring:control")
DB1 = {"virtual": "mysql", "address": "192.0.2.241", "port": "3306"}


@pytest.fixture(autouse=True)
def published(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    Revision.objects.create(serial_no=1, text=SEED)


def client_for(role: str | None) -> Client:
    user = User.objects.create_user(role or "plain", password="a long enough passphrase 7")
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def state() -> str | None:
    row = RealServerRuntimeState.objects.filter(address="192.0.2.241", port=3306).first()
    return None if row is None else row.state


@pytest.mark.parametrize("role", ["operator", "administrator"])
def test_an_operator_or_administrator_drains_and_returns(role):
    client = client_for(role)
    response = client.post(URL, {**DB1, "action": "drain", "next": CONTROL})
    assert response.status_code == 302 and response["Location"] == CONTROL
    assert state() == "drain"
    client.post(URL, {**DB1, "action": "maintenance"})
    assert state() == "maintenance"
    client.post(URL, {**DB1, "action": "return"})
    assert state() is None
    actions = (
        AuditEntry.objects.filter(username=role).order_by("id").values_list("action", "address")
    )
    assert list(actions)[-3:] == [
        ("drain", "127.0.0.1"),
        ("maintenance", "127.0.0.1"),
        ("return", "127.0.0.1"),
    ]


@pytest.mark.parametrize("role", ["viewer", None])
def test_a_viewer_is_refused_by_the_server(role):
    response = client_for(role).post(URL, {**DB1, "action": "drain"})
    assert response.status_code == 403
    assert state() is None and not AuditEntry.objects.filter(action="drain").exists()


def test_it_answers_only_post():
    client = client_for("operator")
    assert client.get(URL, {**DB1, "action": "drain"}).status_code == 405
    assert state() is None


def test_a_post_without_the_csrf_token_is_refused():
    user = User.objects.create_user("op", password="a long enough passphrase 7")
    user.groups.add(Group.objects.get(name="operator"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(URL, {**DB1, "action": "drain"}).status_code == 403
    assert state() is None


def test_bad_fields_change_nothing_and_say_which():
    client = client_for("operator")
    response = client.post(URL, {**DB1, "port": "x", "action": "off"}, follow=True)
    assert "Nothing changed: port, action missing or wrong." in response.content.decode()
    response = client.post(URL, {**DB1, "address": "192.0.2.249", "action": "drain"}, follow=True)
    assert "not in the published configuration: apply it first" in response.content.decode()
    assert not RealServerRuntimeState.objects.exists()


def report(weight: int | None, active: int, inact: int) -> None:
    """What the worker would write: the kernel's line for db1 (if in the table) and its health."""
    destinations = []
    if weight is not None:
        destinations.append({"endpoint": "192.0.2.241:3306", "address": "192.0.2.241", "port": 3306,
                             "forward": "Route", "weight": weight, "active": active, "inact": inact})  # fmt: skip
    WorkerStatus.objects.update_or_create(
        pk=1,
        defaults={
            "heartbeat": timezone.now() - timedelta(seconds=1),
        },
    )
    replace_table(
        [
            {
                "service": "TCP  192.0.2.240:3306",
                "scheduler": "lc",
                "flags": "",
                "virtual": "mysql",
                "destinations": destinations,
            }
        ]
    )
    RealServerHealth.objects.update_or_create(
        virtual_name="mysql",
        address="192.0.2.241",
        port=3306,
        defaults={"state": "up", "weight": weight, "active_conn": active, "inact_conn": inact},
    )


def live(client: Client) -> str:
    return client.get(reverse("monitoring:live_panel")).content.decode()


def test_the_live_table_says_how_far_a_drain_has_come_apart_from_health():
    client = client_for("operator")
    report(1, 3, 1)
    html = live(client)
    assert "lvs-runtime-drain" in html and "lvs-runtime-maintenance" in html
    assert "lvs-runtime-return" not in html
    client.post(URL, {**DB1, "action": "drain"})
    assert "drain requested" in live(client)  # the worker has not applied it yet
    report(0, 3, 1)
    html = live(client)
    assert "draining (3 active, 1 inactive)" in html and "Held by operators: 1 draining" in html
    assert '<span class="badge text-bg-success">up</span>' in html  # health, in its own column
    assert "lvs-runtime-return" in html and "lvs-runtime-drain" not in html
    report(0, 0, 0)
    assert "drained, ready" in live(client)
    client.post(URL, {**DB1, "action": "maintenance"})
    report(None, 0, 0)
    html = live(client)
    assert "in maintenance" in html and "not in the table" in html


def test_a_viewer_sees_the_state_but_no_buttons():
    client_for("operator").post(URL, {**DB1, "action": "drain"})
    report(0, 2, 0)
    viewer = client_for("viewer")
    html = live(viewer)
    assert "draining (2 active, 0 inactive)" in html
    assert "lvs-runtime-" not in html
    assert "lvs-runtime-" not in viewer.get(CONTROL).content.decode()


def test_the_buttons_are_on_control_monitoring_and_come_back_to_it():
    report(1, 0, 0)
    html = client_for("operator").get(CONTROL).content.decode()
    assert "lvs-runtime-drain" in html
    assert f'name="next" value="{CONTROL}"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_real_server_row_has_the_buttons_and_the_state():
    virtual = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    RealServer.objects.create(
        virtual_server=virtual, name="db1", address="192.0.2.241", active=True
    )
    page = reverse("realservers:real_list", args=[virtual.pk])
    operator = client_for("operator")
    html = operator.get(page).content.decode()
    assert "lvs-runtime-drain" in html
    assert 'name="virtual" value="mysql"' in html and 'name="port" value="3306"' in html
    response = operator.post(URL, {**DB1, "action": "drain", "next": page})
    assert response["Location"] == page
    report(0, 4, 0)
    html = operator.get(page).content.decode()
    assert "draining (4 active, 0 inactive)" in html and "lvs-runtime-return" in html
    viewer_html = client_for("viewer").get(page).content.decode()
    assert "draining (4 active, 0 inactive)" in viewer_html
    assert "lvs-runtime-" not in viewer_html


def test_the_live_tables_buttons_share_one_form_that_names_the_real_server():
    report(1, 0, 0)
    operator = client_for("operator")
    html = operator.get(reverse("monitoring:live_panel"), {"q": "mysql"}).content.decode()
    assert html.count('name="csrfmiddlewaretoken"') == 1  # one form, however many lines
    assert 'name="next" value="/?q=mysql"' in html
    assert 'form="lvs-hold-form" name="hold" value="drain mysql 192.0.2.241 3306"' in html
    response = operator.post(URL, {"hold": "drain mysql 192.0.2.241 3306", "next": "/?q=mysql"})
    assert response["Location"] == "/?q=mysql"
    assert state() == "drain"
    response = operator.post(URL, {"hold": "drain mysql"}, follow=True)
    assert "Nothing changed: address, port missing or wrong." in response.content.decode()
