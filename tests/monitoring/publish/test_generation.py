"""The draft's generation: the database counts every write to a draft table, whatever made it
(a bulk update, a delete, plain SQL), and the count survives a table rebuilt by a migration."""

import pytest
from django.db import connection

from monitoring.publish import generation
from realservers.models import RealServer
from tests.monitoring.publish.test_pending_changes import add
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db


def number() -> int:
    return generation.current().number  # the first read makes the row the triggers count in


def test_every_write_to_a_draft_table_moves_the_generation():
    before = number()
    add(0, 2, reals=2)
    after_insert = number()
    assert after_insert > before
    RealServer.objects.update(active=False)
    assert number() == after_insert + 4  # one a row
    VirtualServer.objects.filter(name="vs000").delete()
    assert number() > after_insert + 4


# Transactional: MariaDB commits around DDL, which would end a test's enclosing transaction.
@pytest.mark.django_db(transaction=True)
def test_the_triggers_are_made_again_when_a_table_lost_them():
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:  # as SQLite does when a migration rebuilds the table
        cursor.execute(f"DROP TRIGGER {quote('lvsadmin_draft_update_realservers_realserver')}")
    add(0, 1, reals=1)
    before = number()
    RealServer.objects.update(weight=5)
    assert number() == before  # nothing counted it
    generation.make_triggers(connection)  # what every migrate does after its migrations
    RealServer.objects.update(weight=6)
    assert number() == before + 1
