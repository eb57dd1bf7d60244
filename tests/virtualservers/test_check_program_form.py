"""MONITORING SCRIPTS refuses a sending program root did not designate, on its field."""

import pytest
from django.urls import reverse

from tests.monitoring.publish.test_control_views import script_data
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def virtual(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = ["/etc/lvsadmin/checks"]
    virtual = VirtualServer.objects.create(name="www", address="192.0.2.100", port=80)
    MonitoringScript.objects.create(virtual_server=virtual)
    return virtual


def test_a_shell_with_code_is_refused_on_the_sending_program_field(admin_client, virtual):
    response = admin_client.post(
        reverse("virtualservers:monitoring_script", args=[virtual.pk]),
        script_data(send_program="/bin/sh -c id>/tmp/x;echo${IFS}ok", expect="ok"),
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["send_program"])
    assert "LVSADMIN_CHECK_PROGRAM_DIRS" in errors and "/etc/lvsadmin/checks" in errors
    assert MonitoringScript.objects.get().send_program == ""


def test_a_program_in_a_check_directory_is_saved(admin_client, virtual, settings, tmp_path):
    # Installed as the form now requires (root-owned, 0755: the tests run as root).
    checks = tmp_path / "checks"
    checks.mkdir(mode=0o755)
    (checks / "mysql_mon.sh").write_text("#!/bin/sh\necho UP\n")
    (checks / "mysql_mon.sh").chmod(0o755)
    settings.LVSADMIN_CHECK_PROGRAM_DIRS = [str(checks)]
    response = admin_client.post(
        reverse("virtualservers:monitoring_script", args=[virtual.pk]),
        script_data(send_program=f"{checks}/mysql_mon.sh %h", expect="UP"),
    )
    assert response.status_code == 302
    assert MonitoringScript.objects.get().send_program == f"{checks}/mysql_mon.sh %h"
