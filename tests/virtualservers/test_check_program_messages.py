"""MONITORING SCRIPTS tells each wrong sending program apart, with its exact fix on the field:
a relative path, an interpreter, a directory outside the allowed ones, a missing file, a
non-executable file, a bad owner or mode; and offers the built-in MySQL check for mysql_mon.sh."""

import os
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from virtualservers.models import MonitoringScript, VirtualServer
from virtualservers.validators import (
    INTERPRETER_RE,
    validate_check_program_file,
    validate_check_program_location,
)

NOBODY = 65534


@pytest.fixture
def checks(settings, tmp_path) -> Path:
    """An allowed directory, root-owned and 0755 (the tests run as root)."""
    directory = tmp_path / "checks"
    directory.mkdir()
    directory.chmod(0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(directory)]
    return directory


def program(directory: Path, name: str = "check.sh", mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\necho UP\n")
    path.chmod(mode)
    return path


def message(value: str) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_check_program_location(value)
        validate_check_program_file(value)
    return " ".join(caught.value.messages)


def test_a_relative_path_is_told_to_be_given_in_full(checks):
    text = message("check.sh %h")
    assert "“check.sh” is not an absolute path" in text
    assert f"{checks}/check.sh" in text


@pytest.mark.parametrize(
    "typed", ["/bin/sh /root/x.sh %h", "bash /root/x.sh %h", "python3 /root/x.sh %h"]
)
def test_an_interpreter_is_refused_with_the_install_commands_for_its_script(checks, typed):
    text = message(typed)
    assert "is an interpreter" in text
    assert f"install -d -o root -g root -m 0755 {checks}" in text
    assert f"install -o root -g root -m 0755 /root/x.sh {checks}/x.sh" in text
    assert f"then type {checks}/x.sh %h" in text


def test_a_directory_outside_the_allowed_ones_gets_the_two_install_commands_filled_in(checks):
    text = message("/root/mysql_mon.sh %h")
    assert "/root/mysql_mon.sh is outside the check program directories" in text
    assert "LVSADMIN_CHECK_PROGRAM_DIRS" in text
    assert f"install -d -o root -g root -m 0755 {checks}" in text
    assert f"install -o root -g root -m 0755 /root/mysql_mon.sh {checks}/mysql_mon.sh" in text
    assert f"then type {checks}/mysql_mon.sh %h" in text


def test_the_install_commands_use_the_administrators_directory_from_the_settings(settings):
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = ["/usr/lib/lvsadmin/checks", "/etc/lvsadmin/checks"]
    text = message("/root/mysql_mon.sh %h")
    assert "install -d -o root -g root -m 0755 /etc/lvsadmin/checks" in text
    assert (
        "install -o root -g root -m 0755 /root/mysql_mon.sh /etc/lvsadmin/checks/mysql_mon.sh"
        in text
    )


def test_a_missing_file_is_refused_before_it_takes_every_server_down(checks):
    text = message(f"{checks}/not-there.sh %h")
    assert f"{checks}/not-there.sh does not exist" in text
    assert f"install -o root -g root -m 0755 /path/to/not-there.sh {checks}/not-there.sh" in text


def test_a_file_that_is_not_executable_is_told_to_be_chmodded(checks):
    path = program(checks, mode=0o644)
    assert f"{path} is not executable. As root: chmod 0755 {path}" in message(f"{path} %h")


def test_a_program_not_owned_by_root_gets_the_owner_fix(checks):
    path = program(checks)
    os.chown(path, NOBODY, NOBODY)
    text = message(f"{path} %h")
    assert f"{path} is owned by uid {NOBODY}, not root" in text
    assert f"chown root:root {path} && chmod 0755 {path}" in text
    assert f"install -d -o root -g root -m 0755 {checks}" in text


def test_a_group_writable_program_gets_the_mode_fix(checks):
    path = program(checks, mode=0o775)
    text = message(f"{path} %h")
    assert "group- or world-writable (mode 0775)" in text
    assert f"chmod 0755 {path}" in text


def test_a_world_writable_directory_below_the_allowed_one_is_named(checks):
    sub = checks / "mine"
    sub.mkdir()
    sub.chmod(0o777)
    path = program(sub)
    text = message(f"{path} %h")
    assert f"{sub} is group- or world-writable (mode 0777)" in text
    assert f"install -d -o root -g root -m 0755 {sub}" in text


def test_an_installed_root_owned_executable_program_is_accepted(checks):
    path = program(checks)
    validate_check_program_location(f"{path} %h %p")
    validate_check_program_file(f"{path} %h %p")


def test_a_mysql_program_is_offered_the_builtin_check(checks):
    assert "built-in check" in message("/root/mysql_mon.sh %h")
    assert "built-in check" not in message("/root/web_check.sh %h")


def test_the_interpreter_list_is_the_workers():
    # virtualservers may not import monitoring: the list is repeated, and must stay the same.
    from monitoring.checks.programs import _INTERPRETER_RE

    assert INTERPRETER_RE.pattern == _INTERPRETER_RE.pattern
    assert re.compile(INTERPRETER_RE.pattern).match("python3.11")


# --- on the form -------------------------------------------------------------------------------


@pytest.fixture
def virtual(db):
    virtual = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(virtual_server=virtual)
    return virtual


def post(client, virtual, send_program: str):
    from tests.monitoring.publish.test_control_views import script_data

    return client.post(
        reverse("virtualservers:monitoring_script", args=[virtual.pk]),
        script_data(send_program=send_program, expect="UP"),
    )


@pytest.mark.parametrize(
    "typed, words",
    [
        ("mysql_mon.sh %h", "is not an absolute path"),
        ("/bin/sh /root/mysql_mon.sh %h", "is an interpreter"),
        ("/root/mysql_mon.sh %h", "is outside the check program directories"),
        ("{checks}/missing.sh %h", "does not exist"),
        ("{checks}/plain.sh %h", "is not executable"),
        ("{checks}/loose.sh %h", "group- or world-writable"),
    ],
)
def test_each_message_is_on_the_sending_program_field_alone(
    admin_client, virtual, checks, typed, words
):
    program(checks, "plain.sh", 0o644)
    program(checks, "loose.sh", 0o777)
    response = post(admin_client, virtual, typed.format(checks=checks))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["send_program"]
    assert len(errors["send_program"]) == 1 and words in errors["send_program"][0]
    assert MonitoringScript.objects.get().send_program == ""


def test_the_form_offers_the_builtin_mysql_check_beside_a_mysql_program(
    admin_client, virtual, checks
):
    path = program(checks, "mysql_mon.sh")
    assert post(admin_client, virtual, f"{path} %h").status_code == 302
    html = admin_client.get(
        reverse("virtualservers:monitoring_script", args=[virtual.pk])
    ).content.decode()
    assert "the built-in check (Check: “Built-in MySQL check”) replaces mysql_mon.sh" in html


def test_the_form_says_a_sending_program_cannot_use_the_forwarding_path_check(
    admin_client, virtual
):
    html = admin_client.get(
        reverse("virtualservers:monitoring_script", args=[virtual.pk])
    ).content.decode()
    assert "it cannot use the forwarding-path check" in html
