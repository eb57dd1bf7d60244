"""The notifications page refuses an interpreter as the notify program, on its field, as the
check program form does: by its name, and as a copy of one under another name in a check
program directory (given code on its command line it would run whatever the form says)."""

import os
import shutil
from pathlib import Path

import pytest

from monitoring.models import NotificationSettings
from tests.monitoring.notify.test_notify_views import PAGE, client_as, form

pytestmark = pytest.mark.django_db


@pytest.fixture
def checks(settings, tmp_path) -> Path:
    """A check program directory root designated, root-owned, 0755 (the tests run as root)."""
    directory = tmp_path / "checks"
    directory.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(directory, 0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(directory)]
    return directory


def installed(directory: Path, source: str, name: str) -> Path:
    target = directory / name
    shutil.copy(os.path.realpath(source), target)
    os.chmod(target, 0o755)
    return target


def refusal(program: str) -> str:
    response = client_as("administrator").post(PAGE, form(program=program))
    assert response.status_code == 200  # the page again, with the error on the field
    assert NotificationSettings.load().program == ""
    return " ".join(response.context["form"].errors["program"])


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("/bin/sh", "sh"),  # refused by its name
        ("/bin/sh", "notify"),  # a shell copied under another name
        ("/bin/bash", "page-oncall"),
        ("/usr/bin/perl", "alert"),
        ("/usr/bin/python3", "notify.py"),
    ],
)
def test_an_interpreter_copied_into_a_check_directory_is_refused_on_its_field(checks, source, name):
    program = installed(checks, source, name)
    text = refusal(f"{program} -c id")
    assert "interpreter" in text
    assert "refused even in a check program directory" in text


def test_a_missing_notify_program_is_refused_as_a_missing_check_program_is(checks):
    text = refusal(f"{checks}/not-installed-yet")
    assert "does not exist" in text


def test_a_real_notify_script_is_still_saved(checks):
    script = checks / "notify.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    response = client_as("administrator").post(PAGE, form(program=f"{script} --page"))
    assert response.status_code == 302
    assert NotificationSettings.load().program == f"{script} --page"
