"""`manage.py realserver setup NAME`: the Set up page's texts for scripts."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.realservers.setup_support import lvs_cf

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_LVS_CF.write_text(lvs_cf(serial=3))


def setup(*argv: str) -> str:
    out = io.StringIO()
    call_command("realserver", "setup", *argv, stdout=out)
    return out.getvalue()


def test_it_prints_the_script_of_a_real_server_named_as_in_the_published_file(published):
    script = setup("mysql1")
    assert script.startswith("#!/bin/sh\n") and "serial_no 3" in script
    assert "192.0.2.241) echo '192.0.2.240 192.0.2.250' ;;" in script
    assert setup("mysql/mysql1") == script


@pytest.mark.parametrize(
    "fmt, needle", [("unit", "RemainAfterExit=yes"), ("sql", "GRANT USAGE ON *.*")]
)
def test_it_prints_the_unit_or_the_sql_with_format(published, fmt, needle):
    assert needle in setup("mysql/mysql2", "--format", fmt)


def test_it_takes_the_arp_method(published):
    assert "ARP=arptables\n" in setup("mysql1", "--arp", "arptables")


def test_an_unknown_real_server_is_a_command_error(published):
    with pytest.raises(CommandError, match="no real server 'nosuch'"):
        setup("nosuch")


def test_nothing_published_is_a_command_error(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    with pytest.raises(CommandError, match="Nothing is published yet"):
        setup("mysql1")


def test_setup_needs_a_name(published):
    with pytest.raises(CommandError, match="name the real server"):
        call_command("realserver", "setup", stdout=io.StringIO())
