"""The runtime models' helpers (monitoring.models) against the database."""

from __future__ import annotations

import pytest

from monitoring.models import NotificationSettings, PreparedRead, RealServerHealth, update_by_pk

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_prepared_read_gives_what_the_orm_gives_and_sees_every_later_write():
    read = PreparedRead(
        NotificationSettings.objects.filter(pk=1).values_list("recipients", "webhook_timeout")
    )
    assert read.rows() == []
    NotificationSettings.objects.create(pk=1, recipients="ops@example.com", webhook_timeout=2.5)
    assert read.rows() == [("ops@example.com", 2.5)]
    NotificationSettings.objects.filter(pk=1).update(recipients="")
    assert read.rows() == list(read.queryset) == [("", 2.5)]


def test_an_update_by_primary_key_sets_the_columns_of_the_rows_it_finds_and_counts_them():
    rows = [
        RealServerHealth.objects.create(virtual_name="www", address=f"192.0.2.{n}", port=80)
        for n in (1, 2)
    ]
    gone = rows[1].pk + 100
    assert update_by_pk(RealServerHealth, ("latency_ms", "last_error"), []) == 0
    matched = update_by_pk(
        RealServerHealth,
        ("latency_ms", "last_error"),
        [(1.25, "slow", rows[0].pk), (None, "", rows[1].pk), (3.0, "x", gone)],
    )
    assert matched == 2
    shown = RealServerHealth.objects.order_by("address").values_list("latency_ms", "last_error")
    assert list(shown) == [(1.25, "slow"), (None, "")]
