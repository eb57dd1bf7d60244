"""CONTROL/MONITORING keeps the worker's decoded table between loads (14.6 MB of JSON at 10,000 x
10) and reads it again only when the worker wrote a new one: never a stale table, and no read of
the text while it did not change."""

import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.models import WorkerStatus
from monitoring.worker.status import Enforced, HealthSnapshot, StatusWriter
from tests.monitoring.live.test_live_views import destination, report, service
from virtualservers.lvsconf.parse import parse

pytestmark = pytest.mark.django_db
NOTHING_DOWN = HealthSnapshot([], frozenset(), 0)


def lvs_cf(vip: str) -> str:
    return (
        "serial_no = 1\nvirtual web {\n active = 1\n address = "
        f"{vip} eth0\n port = 80\n server web1 {{\n  address = 198.51.100.11\n  active = 1\n }}\n}}\n"
    )


def live_table(client) -> str:
    """CONTROL/MONITORING's live table (the pending changes below it may name older VIPs)."""
    page = client.get(reverse("monitoring:control")).content.decode()
    return page.split('id="live-table"', 1)[1].split("</section>", 1)[0]


def test_control_shows_the_table_the_worker_wrote_last(admin_client, tmp_path):
    kernel = SimpleNamespace(
        ok=True, message="", driver=None, dump=lambda: None, held={}, driver_name="memory",
        state_path=tmp_path / "apply-state.json", traffic=lambda: None,
        metrics=SimpleNamespace(publish=lambda *args, **kwargs: None),
    )  # fmt: skip
    writer = StatusWriter(kernel, time.time)
    writer.write(Enforced(parse(lvs_cf("192.0.2.80"))[0], 1), NOTHING_DOWN, force=True)
    assert "TCP  192.0.2.80:80" in live_table(admin_client)
    writer.write(Enforced(parse(lvs_cf("192.0.2.81"))[0], 1), NOTHING_DOWN, force=True)
    page = live_table(admin_client)
    assert "TCP  192.0.2.81:80" in page and "192.0.2.80" not in page


def test_a_table_rewritten_through_the_orm_shows_at_once(admin_client):
    report(rows=[service("TCP  192.0.2.240:3306", "mysql", destination("192.0.2.242"))])
    assert "192.0.2.242:3306" in live_table(admin_client)
    rewritten = [service("TCP  192.0.2.240:3306", "mysql", destination("192.0.2.243"))]
    WorkerStatus.objects.filter(pk=1).update(table=rewritten)
    page = live_table(admin_client)
    assert "192.0.2.243:3306" in page and "192.0.2.242" not in page
    status = WorkerStatus.objects.get(pk=1)
    status.table = [service("TCP  192.0.2.240:3306", "mysql", destination("192.0.2.244"))]
    status.save(update_fields=["table"])
    page = live_table(admin_client)
    assert "192.0.2.244:3306" in page and "192.0.2.243" not in page


def test_a_load_reads_the_table_text_only_after_the_worker_wrote_a_new_one(admin_client):
    report()
    live_table(admin_client)
    column = f".{connection.ops.quote_name('table')}"

    def table_reads() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert "192.0.2.242:3306" in live_table(admin_client)
        return sum(column in query["sql"] for query in queries.captured_queries)

    assert table_reads() == 0
    WorkerStatus.objects.filter(pk=1).update(heartbeat=WorkerStatus.objects.get().heartbeat)
    assert table_reads() == 0  # the heartbeat moved, the table did not
    WorkerStatus.objects.filter(pk=1).update(table=WorkerStatus.objects.get().table)
    assert table_reads() == 1
