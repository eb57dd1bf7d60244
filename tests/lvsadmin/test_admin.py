"""Django admin: every model's list renders; bulk (de)activate and bulk weight change work."""

import pytest

from monitoring.models import RealServerHealth, Revision, WorkerStatus
from realservers.models import RealServer
from virtualservers.models import (
    FailoverService,
    GlobalSettings,
    MonitoringScript,
    Redundancy,
    VirtualServer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def servers():
    vs = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    MonitoringScript.objects.create(
        virtual_server=vs, kind="mysql", mysql_user="monitor", mysql_password="s3cret-pw"
    )
    rs = [
        RealServer.objects.create(virtual_server=vs, name=f"db{i}", address=f"192.0.2.24{i}")
        for i in (1, 2)
    ]
    GlobalSettings.load()
    Redundancy.load()
    FailoverService.objects.create(name="web1", items=[["address", "192.0.2.9 eth0:1"]])
    Revision.objects.create(serial_no=1, text="serial_no = 1\n")
    RealServerHealth.objects.create(
        virtual_name="mysql", address="192.0.2.241", port=3306, state="up"
    )
    WorkerStatus.objects.create(pk=1)
    return vs, rs


@pytest.mark.parametrize(
    "url",
    [
        "/admin/virtualservers/virtualserver/",
        "/admin/virtualservers/globalsettings/",
        "/admin/virtualservers/redundancy/",
        "/admin/virtualservers/failoverservice/",
        "/admin/monitoring/revision/",
        "/admin/realservers/realserver/",
        "/admin/virtualservers/monitoringscript/",
        "/admin/monitoring/realserverhealth/",
        "/admin/monitoring/workerstatus/",
    ],
)
def test_it_lists_every_model(admin_client_, servers, url):
    # A singleton's list is its one change page (SingletonAdmin).
    response = admin_client_.get(url, follow=True)
    assert response.status_code == 200


def test_it_searches_virtual_servers_by_real_server_address(admin_client_, servers):
    response = admin_client_.get("/admin/virtualservers/virtualserver/?q=192.0.2.242")
    assert b"mysql" in response.content


def test_a_virtual_servers_page_shows_its_real_servers_and_monitoring_script(
    admin_client_, servers
):
    vs, _rs = servers
    page = admin_client_.get(f"/admin/virtualservers/virtualserver/{vs.pk}/change/")
    assert b"192.0.2.241" in page.content and b"192.0.2.242" in page.content
    assert b"monitoring_script-0-kind" in page.content


def test_it_activates_and_deactivates_in_bulk(admin_client_, servers):
    vs, rs = servers
    admin_client_.post(
        "/admin/realservers/realserver/",
        {"action": "activate", "_selected_action": [r.pk for r in rs]},
    )
    assert RealServer.objects.filter(active=True).count() == 2
    admin_client_.post(
        "/admin/realservers/realserver/", {"action": "deactivate", "_selected_action": [rs[0].pk]}
    )
    assert RealServer.objects.filter(active=True).count() == 1
    admin_client_.post(
        "/admin/virtualservers/virtualserver/", {"action": "activate", "_selected_action": [vs.pk]}
    )
    assert VirtualServer.objects.get().active


def test_it_changes_weights_in_bulk_through_a_form(admin_client_, servers):
    _vs, rs = servers
    ids = [r.pk for r in rs]
    page = admin_client_.post(
        "/admin/realservers/realserver/", {"action": "set_weight", "_selected_action": ids}
    )
    assert b"New weight for 2 real servers" in page.content
    admin_client_.post(
        "/admin/realservers/realserver/",
        {"action": "set_weight", "_selected_action": ids, "apply": "1", "weight": "7"},
    )
    assert set(RealServer.objects.values_list("weight", flat=True)) == {7}


def test_it_refuses_a_weight_out_of_range(admin_client_, servers):
    _vs, rs = servers
    page = admin_client_.post(
        "/admin/realservers/realserver/",
        {"action": "set_weight", "_selected_action": [rs[0].pk], "apply": "1", "weight": "70000"},
    )
    assert b"Ensure this value is less than or equal to 65535" in page.content
    assert RealServer.objects.get(pk=rs[0].pk).weight == 1


def test_it_never_shows_the_mysql_password(admin_client_, servers):
    script = MonitoringScript.objects.get()
    page = admin_client_.get(f"/admin/virtualservers/monitoringscript/{script.pk}/change/")
    assert page.status_code == 200
    assert b"s3cret-pw" not in page.content


SINGLETONS = [
    (GlobalSettings, "/admin/virtualservers/globalsettings/", "primary", "192.0.2.1"),
    (Redundancy, "/admin/virtualservers/redundancy/", "backup", "192.0.2.2"),
]


@pytest.mark.parametrize(("model", "url", "field", "value"), SINGLETONS)
def test_a_singletons_add_page_leads_to_its_one_row_and_adds_nothing(
    admin_client_, model, url, field, value
):
    # The singleton's save() forces pk=1: an "add" would overwrite the draft's row with blanks;
    # a superuser opening the add page got a bare "403 Forbidden".
    model.objects.create(**{field: value})
    change = f"{url}1/change/"
    assert admin_client_.get(f"{url}add/").url == change
    assert admin_client_.post(f"{url}add/", {}).url == change
    assert getattr(model.load(), field) == value
    assert f"{url}add/" not in admin_client_.get(change).content.decode()


@pytest.mark.parametrize(("model", "url", "field", "value"), SINGLETONS)
def test_a_singletons_list_goes_straight_to_its_one_change_page(
    admin_client_, model, url, field, value
):
    assert admin_client_.get(url).url == f"{url}1/change/"
    page = admin_client_.get(f"{url}1/change/")
    assert page.status_code == 200
    assert f"{url}1/delete/" not in page.content.decode()


@pytest.mark.parametrize(("model", "url", "field", "value"), SINGLETONS)
def test_a_singleton_cannot_be_deleted(admin_client_, model, url, field, value):
    # "Delete selected global settings" dropped the draft's primary without a word.
    model.objects.create(**{field: value})
    admin_client_.post(url, {"action": "delete_selected", "_selected_action": [1], "post": "yes"})
    assert admin_client_.post(f"{url}1/delete/", {"post": "yes"}).status_code == 403
    assert getattr(model.load(), field) == value
    index = admin_client_.get("/admin/").content.decode()
    assert f"{url}add/" not in index
