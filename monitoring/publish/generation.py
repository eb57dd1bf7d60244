"""The draft's generation: a number the database bumps on every write to a draft table.

Triggers count the writes, not signals: a bulk update (the admin's "Deactivate selected"), an
import's executemany or a restore send no signal, and a missed write would show stale pending
changes. The triggers are (re)made after every `migrate` (post_migrate), because SQLite drops a
table's triggers when a later migration rebuilds that table to alter a column.
"""

from __future__ import annotations

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from monitoring.models import DraftGeneration
from monitoring.publish.audit import DRAFT_MODELS

EVENTS = ("INSERT", "UPDATE", "DELETE")


def _name(table: str, event: str) -> str:
    return f"lvsadmin_draft_{event.lower()}_{table}"


def make_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create (or re-create) the counting triggers on every draft table. The counter's row is
    made by the first page that reads it (`current`); until then there is nothing to count."""
    quote = connection.ops.quote_name
    counter, number = quote(DraftGeneration._meta.db_table), quote("number")
    bump = f"UPDATE {counter} SET {number} = {number} + 1 WHERE id = 1"
    with connection.cursor() as cursor:
        for model in DRAFT_MODELS:
            table = model._meta.db_table
            for event in EVENTS:
                name = quote(_name(table, event))
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                head = f"CREATE TRIGGER {name} AFTER {event} ON {quote(table)} FOR EACH ROW"
                if connection.vendor == "sqlite":
                    cursor.execute(f"{head} BEGIN {bump}; END")
                else:  # MariaDB/MySQL: a one-statement body needs no BEGIN ... END
                    cursor.execute(f"{head} {bump}")


def drop_triggers(connection: BaseDatabaseWrapper) -> None:
    """Before the counter's table goes (a migration back past 0013): a trigger naming a missing
    table would fail every write to its draft table."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in DRAFT_MODELS:
            for event in EVENTS:
                cursor.execute(
                    f"DROP TRIGGER IF EXISTS {quote(_name(model._meta.db_table, event))}"
                )


def after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate of the monitoring app. A migrate back to before the counter existed (the
    migration tests do) leaves nothing to count into."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    needed = {DraftGeneration._meta.db_table} | {m._meta.db_table for m in DRAFT_MODELS}
    if needed <= tables:
        make_triggers(connection)
        # The row the triggers count in (a flush emptied it; the first page would make it).
        DraftGeneration.objects.using(using).get_or_create(pk=1)


def current() -> DraftGeneration:
    """The row (one query); created if a flush emptied it (the triggers then count from 0)."""
    return DraftGeneration.objects.get_or_create(pk=1)[0]


def remember(row: DraftGeneration, **values: object) -> None:
    """Store what was computed for `row`'s generation, unless the draft changed meanwhile (the
    next load computes it again)."""
    DraftGeneration.objects.filter(pk=1, number=row.number).update(**values)
