"""Upgrading a database written before MonitoringScript moved to virtualservers and Revision to
monitoring: the rows stay in their tables and are found under the new apps."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [
    ("monitoring", "0003_sample_minute"),
    ("virtualservers", "0003_canonical_addresses"),
    ("contenttypes", "0002_remove_content_type_name"),
]
AFTER = [("virtualservers", "0005_monitoringscript_moves_here")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_a_monitoring_script_and_a_revision_survive_the_move():
    apps = migrate(BEFORE)
    user = apps.get_model("auth", "User").objects.create(username="piranha")
    virtual = apps.get_model("virtualservers", "VirtualServer").objects.create(
        name="db", address="192.0.2.240", port=3306
    )
    script = apps.get_model("monitoring", "MonitoringScript").objects.create(
        virtual_server=virtual, kind="mysql", mysql_user="monitor", mysql_password="s3cret"
    )
    revision = apps.get_model("virtualservers", "Revision").objects.create(
        serial_no=7, text="serial_no = 7\n", created_by=user, checks={"db": {"kind": "mysql"}}
    )
    content_types = apps.get_model("contenttypes", "ContentType").objects
    old_script_type, _new = content_types.get_or_create(
        app_label="monitoring", model="monitoringscript"
    )

    apps = migrate(AFTER)
    moved = apps.get_model("virtualservers", "MonitoringScript").objects.get(pk=script.pk)
    assert (moved.virtual_server_id, moved.kind, moved.mysql_user, moved.mysql_password) == (
        virtual.pk,
        "mysql",
        "monitor",
        "s3cret",
    )
    kept = apps.get_model("monitoring", "Revision").objects.get(pk=revision.pk)
    assert (kept.serial_no, kept.text, kept.created_by_id) == (7, "serial_no = 7\n", user.pk)
    assert kept.checks["db"]["kind"] == "mysql"
    content_types = apps.get_model("contenttypes", "ContentType").objects
    assert content_types.get(pk=old_script_type.pk).app_label == "virtualservers"

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert get_user_model().objects.filter(username="piranha").exists()


def test_published_checks_get_the_model_field_names():
    apps = migrate([("monitoring", "0004_models_change_apps")])
    old = {"kind": "mysql", "user": "mon", "password": "pw", "database": "app"}
    old.update(query="SELECT 1", expect="1")
    revision = apps.get_model("monitoring", "Revision").objects.create(
        serial_no=3, text="serial_no = 3\n", checks={"db": old, "web": {"kind": "tcp"}}
    )

    apps = migrate([("monitoring", "0005_checks_use_model_field_names")])
    checks = apps.get_model("monitoring", "Revision").objects.get(pk=revision.pk).checks
    assert checks == {
        "db": {
            "kind": "mysql",
            "mysql_user": "mon",
            "mysql_password": "pw",
            "mysql_database": "app",
            "mysql_query": "SELECT 1",
            "mysql_expect": "1",
        },
        "web": {"kind": "tcp"},
    }

    apps = migrate([("monitoring", "0004_models_change_apps")])
    assert apps.get_model("monitoring", "Revision").objects.get(pk=revision.pk).checks["db"] == old
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_workers_table_kept_whole_is_split_into_a_row_a_service_in_its_order():
    """An upgrade loses nothing of the table CONTROL shows: the services of the old document
    become rows, in the kernel table's order, until the worker writes its own at start."""
    apps = migrate([("monitoring", "0015_worker_table_stamp")])

    def service(label: str, virtual: str, address: str) -> dict:
        return {"service": label, "scheduler": "wlc", "flags": "", "virtual": virtual,
                "destinations": [{"endpoint": f"{address}:80", "address": address, "port": 80,
                                  "forward": "Route", "weight": 1, "active": 2, "inact": 3}]}  # fmt: skip

    table = [
        service("TCP  192.0.2.1:80", "www", "198.51.100.1"),
        service("TCP  192.0.2.10:80", "api", "198.51.100.2"),
        service("FWM  7", "marked", "198.51.100.3"),
        {"not": "a service"},
    ]
    note = "# the table lvsadmin would apply (no IPVS in this kernel)\n"
    text = note + "IP Virtual Server version 1.2.1 (size=4096)\n"
    apps.get_model("monitoring", "WorkerStatus").objects.create(pk=1, table=table, table_text=text)

    apps = migrate([("monitoring", "0016_worker_table_rows")])
    rows = apps.get_model("monitoring", "WorkerTableService").objects.order_by("key")
    assert [r.row for r in rows] == [table[2], table[0], table[1]]  # fwm, then tcp by address
    assert apps.get_model("monitoring", "WorkerStatus").objects.get().table_note == note
    assert [(r.virtual, r.address, r.connections) for r in rows] == [
        ("marked", "", 5),
        ("www", "192.0.2.1", 5),
        ("api", "192.0.2.10", 5),
    ]
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
