"""Field validators: zone ids, regular expressions, where a sending program may live."""

import pytest
from django.core.exceptions import ValidationError

from virtualservers.validators import (
    validate_check_program_location,
    validate_ip,
    validate_regex,
)


def message(validator, value) -> str:
    with pytest.raises(ValidationError) as caught:
        validator(value)
    return " ".join(caught.value.messages)


@pytest.mark.parametrize("value", ["fe80::1%eth0", "fe80::1%$(id);echo", "2001:db8::1%1"])
def test_an_ipv6_zone_id_is_refused(value):
    assert "zone id" in message(validate_ip, value)


def test_a_plain_ipv6_address_is_accepted():
    validate_ip("2001:db8::1")


def test_a_backreference_is_refused_with_the_reason():
    text = message(validate_regex, "(a)\\1")
    assert "invalid escape sequence" in text
    assert "backreferences and lookarounds are not supported" in text


def test_a_regex_that_backtracks_elsewhere_is_accepted_since_re2_matches_it_in_linear_time():
    validate_regex("(a+)+$")


@pytest.fixture
def check_dirs(settings, tmp_path):
    allowed = tmp_path / "checks"
    allowed.mkdir()
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(allowed), "/etc/lvsadmin/checks"]
    return allowed


def test_a_program_in_a_check_directory_is_accepted_even_before_it_is_installed(check_dirs):
    validate_check_program_location(f"{check_dirs}/mysql_mon.sh %h")
    validate_check_program_location("/etc/lvsadmin/checks/not-yet-there %h %p")
    validate_check_program_location("")


@pytest.mark.parametrize(
    "program",
    [
        "/bin/sh -c id>/tmp/x;echo${IFS}ok",
        "/root/mysql_mon.sh %h",
        "/etc/lvsadmin/checks/../../../bin/sh -c id",
        "/etc/lvsadmin/checksum %h",
    ],
)
def test_a_program_outside_the_check_directories_is_refused_naming_the_setting(check_dirs, program):
    text = message(validate_check_program_location, program)
    assert "LVSADMIN_CHECK_PROGRAM_DIRS" in text and "/etc/lvsadmin/checks" in text


def test_a_symlink_out_of_a_check_directory_is_refused(check_dirs):
    (check_dirs / "sh").symlink_to("/bin/sh")
    assert "LVSADMIN_CHECK_PROGRAM_DIRS" in message(
        validate_check_program_location, f"{check_dirs}/sh -c id"
    )
