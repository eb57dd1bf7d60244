"""The notifications page: administrators change it and send a test message through every
channel (each channel's result shown); viewers and operators read it; changes are audited."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django.urls import reverse

from monitoring.models import AuditEntry, NotificationSettings
from tests.monitoring.notify.test_notify_channels import Hook, black_hole  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
PAGE = reverse("monitoring:notifications")
TEST = reverse("monitoring:notifications_test")


def client_as(role: str) -> Client:
    user = User.objects.create_user(role)  # no password to hash: force_login needs none
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def form(**values) -> dict:
    data = {
        "recipients": "",
        "sender": "",
        "webhook_url": "",
        "webhook_timeout": "5",
        "webhook_retries": "3",
        "program": "",
        "program_timeout": "10",
        "window": "2",
        "max_delay": "30",
    }
    data.update(values)
    return data


@pytest.fixture
def notify_program(settings, tmp_path: Path) -> Path:
    """A notify program in a directory root designated (the tests run as root) and opted in
    to run as root, so that it can write where the test reads."""
    directory = tmp_path / "notify"
    directory.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(directory, 0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(directory)]
    settings.LVSADMIN_CHECK_ROOT_DIRS = [str(directory)]
    program = directory / "notify.sh"
    program.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/ran\n')
    os.chmod(program, 0o755)
    return program


def test_an_administrator_saves_the_settings_and_the_change_is_audited():
    client = client_as("administrator")
    response = client.post(
        PAGE,
        form(recipients="ops@example.org, noc@example.org", webhook_url="http://192.0.2.7/hook"),
    )
    assert response.status_code == 302
    config = NotificationSettings.load()
    assert config.recipient_list() == ["ops@example.org", "noc@example.org"]
    assert config.webhook_url == "http://192.0.2.7/hook"
    entry = AuditEntry.objects.get(action="change")
    assert entry.username == "administrator" and entry.target.startswith("notification settings")
    assert entry.changes["webhook_url"] == ["", "http://192.0.2.7/hook"]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_read_the_page_without_buttons_and_cannot_post(role):
    NotificationSettings.objects.create(recipients="ops@example.org")
    client = client_as(role)
    html = client.get(PAGE).content.decode()
    assert "ops@example.org" in html
    assert ">ACCEPT<" not in html and "Send test message" not in html
    assert client.post(PAGE, form(recipients="evil@example.org")).status_code == 403
    assert client.post(TEST).status_code == 403
    assert NotificationSettings.load().recipients == "ops@example.org"
    assert mail.outbox == []


def test_the_administrator_sees_both_buttons():
    html = client_as("administrator").get(PAGE).content.decode()
    assert ">ACCEPT<" in html and "Send test message" in html


def test_control_monitoring_links_to_the_page():
    html = client_as("viewer").get(reverse("monitoring:control")).content.decode()
    assert f'href="{PAGE}"' in html


def test_a_bad_recipient_is_named_on_its_field():
    response = client_as("administrator").post(PAGE, form(recipients="ops@example.org\nnot-mail"))
    assert response.status_code == 200
    assert response.context["form"].errors["recipients"] == ["Not an e-mail address: not-mail"]
    assert NotificationSettings.load().recipients == ""


def test_a_webhook_must_be_http_or_https():
    response = client_as("administrator").post(PAGE, form(webhook_url="ftp://192.0.2.7/hook"))
    assert "webhook_url" in response.context["form"].errors


def test_a_program_outside_the_check_directories_is_refused_on_its_field(settings):
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = ["/etc/lvsadmin/checks"]
    response = client_as("administrator").post(PAGE, form(program="/bin/sh -c id"))
    errors = " ".join(response.context["form"].errors["program"])
    assert "LVSADMIN_CHECK_PROGRAM_DIRS" in errors


def test_the_longest_delay_is_not_shorter_than_the_window():
    response = client_as("administrator").post(PAGE, form(window="10", max_delay="5"))
    assert "max_delay" in response.context["form"].errors


def test_the_test_button_sends_through_every_channel_and_shows_each_result(
    notify_program, tmp_path
):
    hook = Hook()
    try:
        NotificationSettings.objects.create(
            recipients="ops@example.org", webhook_url=hook.url, program=str(notify_program)
        )
        response = client_as("administrator").post(TEST, follow=True)
    finally:
        hook.close()
    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [
        ("success", "e-mail: sent to ops@example.org"),
        ("success", "webhook: HTTP 204"),
        ("success", "program: ran 1 time, exit status 0"),
    ]
    (message,) = mail.outbox
    assert message.subject.endswith("test message")
    assert hook.bodies[0]["test"] is True and hook.bodies[0]["events"] == []
    assert (tmp_path / "ran").read_text().startswith("TEST ")
    assert AuditEntry.objects.filter(action="test message").exists()


def test_the_test_button_says_which_channel_failed(black_hole, settings):  # noqa: F811
    NotificationSettings.objects.create(
        recipients="ops@example.org", webhook_url=black_hole, webhook_timeout=0.5
    )
    response = client_as("administrator").post(TEST, follow=True)
    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [
        ("success", "e-mail: sent to ops@example.org"),
        ("error", "webhook: timed out (1 attempt)"),
    ]


def test_the_test_button_without_a_channel_says_so():
    response = client_as("administrator").post(TEST, follow=True)
    shown = [m.message for m in response.context["messages"]]
    assert shown == ["Nothing to test: no channel is configured."]
