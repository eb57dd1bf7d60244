"""Upgrading a database written before addresses were kept canonical."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [
    ("realservers", "0002_canonical_addresses"),
    ("virtualservers", "0003_canonical_addresses"),
]
AFTER = [("realservers", "0003_rewrite_addresses_canonically")]


def test_existing_addresses_get_their_one_spelling():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    virtual = apps.get_model("virtualservers", "VirtualServer").objects.create(
        name="v6", address="2001:0DB8::0080", port=80
    )
    server = apps.get_model("realservers", "RealServer").objects.create(
        virtual_server=virtual, name="a", address="2001:0db8:0:0::1"
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    assert apps.get_model("virtualservers", "VirtualServer").objects.get(pk=virtual.pk).address == (
        "2001:db8::80"
    )
    assert apps.get_model("realservers", "RealServer").objects.get(pk=server.pk).address == (
        "2001:db8::1"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
