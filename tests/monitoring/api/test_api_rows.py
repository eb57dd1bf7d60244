"""The read views' plain rows are what the documented serializers would give."""

import pytest

from monitoring.api import rows
from monitoring.api.serializers import VirtualServerSerializer
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


def test_plain_rows_equal_the_serializers_output():
    www = VirtualServer.objects.create(
        name="www", address="192.0.2.100", port=80, active=True, quiesce_server=None
    )
    MonitoringScript.objects.create(virtual_server=www, send_program="", use_regex=True)
    RealServer.objects.create(virtual_server=www, name="b", address="192.0.2.2", position=1)
    RealServer.objects.create(virtual_server=www, name="a", address="192.0.2.1", port=8080)
    bare = VirtualServer.objects.create(name="bare", address="2001:db8::1", port=443, position=1)
    expected = VirtualServerSerializer(
        VirtualServer.objects.order_by("position", "id"), many=True
    ).data
    assert rows.virtual_servers() == [dict(row) for row in expected]
    assert [r["name"] for r in rows.virtual_servers()[0]["real_servers"]] == ["a", "b"]
    assert rows.virtual_servers([bare.pk])[0]["monitoring_script"] is None
