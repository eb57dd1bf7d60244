"""The worker's table a row a service: the status writer writes only the services that changed
(none when nothing did, a deleted one deleted, the whole table when another worker wrote since),
and CONTROL/MONITORING shows the table the worker wrote last, reading only the page it shows."""

import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.ipvs.table import desired_state
from monitoring.live.panel import SERVICES_PER_PAGE
from monitoring.live.worker_table import replace_table
from monitoring.models import WorkerStatus, WorkerTableService
from monitoring.worker.status import (
    COUNTERS_SHARE,
    STATUS_EVERY,
    Enforced,
    HealthSnapshot,
    StatusWriter,
)
from tests.monitoring.live.test_live_views import destination, health, report, service
from tests.support.concurrency import DeadlockOnce, at_once
from virtualservers.lvsconf.parse import parse

pytestmark = pytest.mark.django_db
NOTHING_DOWN = HealthSnapshot([], frozenset(), 0)
TABLE = WorkerTableService._meta.db_table


def lvs_cf(vip: str, virtuals: int = 1, weight: int = 1, first: int = 0) -> str:
    """`virtuals` virtual servers vs<n> (n from `first`), each on port 8000+n of `vip` with one
    real server; vs<first>'s real server has `weight`."""
    text = "serial_no = 1\n"
    for n in range(first, first + virtuals):
        text += (
            f"virtual vs{n} {{\n active = 1\n address = {vip} eth0\n port = {8000 + n}\n"
            f" server r{n} {{\n  address = 198.51.100.11\n  active = 1\n"
            f"  weight = {weight if n == first else 1}\n }}\n}}\n"
        )
    return text


def kernel(tmp_path) -> SimpleNamespace:
    return SimpleNamespace(
        ok=True, message="", driver=None, dump=lambda: None, held={}, driver_name="memory",
        state_path=tmp_path / "apply-state.json", traffic=lambda: None,
        metrics=SimpleNamespace(publish=lambda *args, **kwargs: None),
    )  # fmt: skip


class Worker:
    """A status writer on a clock of the test's, one round at a time."""

    def __init__(self, tmp_path) -> None:
        self.now = time.time()
        self.writer = StatusWriter(kernel(tmp_path), lambda: self.now)

    def round(self, text: str) -> list[str]:
        """One round with lvs.cf `text` enforced: the statements it sent on the table's rows."""
        self.now += STATUS_EVERY
        with CaptureQueriesContext(connection) as queries:
            assert self.writer.write(Enforced(parse(text)[0], 1), NOTHING_DOWN)
        return [q["sql"] for q in queries.captured_queries if TABLE in q["sql"]]


def writes(statements: list[str]) -> list[str]:
    """The statements that wrote, each as its verb and how many rows' values it was run with
    ("INSERT x1": an upsert of one row)."""
    found = []
    for sql in statements:
        times, _, rest = sql.partition(" times: ")  # an executemany, as Django records it
        count, sql = (int(times), rest) if rest and times.isdigit() else (1, sql)
        verb = sql.lstrip().split()[0].upper()
        if verb != "SELECT":
            found.append(f"{verb} x{count}")
    return found


def shown(virtual: str) -> dict:
    return WorkerTableService.objects.get(virtual=virtual).row


def live_table(client) -> str:
    """CONTROL/MONITORING's live table (the pending changes below it may name older VIPs)."""
    page = client.get(reverse("monitoring:control")).content.decode()
    return page.split('id="live-table"', 1)[1].split("</section>", 1)[0]


def test_control_shows_the_table_the_worker_wrote_last(admin_client, tmp_path):
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80"))
    assert "TCP  192.0.2.80:8000" in live_table(admin_client)
    worker.round(lvs_cf("192.0.2.81"))
    page = live_table(admin_client)
    assert "TCP  192.0.2.81:8000" in page and "192.0.2.80" not in page


def test_a_change_to_one_service_writes_that_services_row_alone(tmp_path):
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80", virtuals=50))
    untouched = dict(WorkerTableService.objects.values_list("virtual", "pk"))
    statements = worker.round(lvs_cf("192.0.2.80", virtuals=50, weight=7))
    assert writes(statements) == ["INSERT x1"]  # an upsert of one row
    assert not [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert shown("vs0")["destinations"][0]["weight"] == 7
    assert dict(WorkerTableService.objects.values_list("virtual", "pk")) == untouched


def test_a_round_with_nothing_changed_writes_no_row(tmp_path):
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80", virtuals=20))
    assert worker.round(lvs_cf("192.0.2.80", virtuals=20)) == []


def test_a_service_gone_from_the_table_is_deleted_and_no_other_row_written(tmp_path):
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80", virtuals=20))
    assert writes(worker.round(lvs_cf("192.0.2.80", virtuals=19, first=1))) == ["DELETE x1"]
    names = set(WorkerTableService.objects.values_list("virtual", flat=True))
    assert names == {f"vs{n}" for n in range(1, 20)}


def test_a_virtual_server_renamed_over_the_same_table_shows_its_new_name_at_once(tmp_path):
    # The table is the kernel's and stays the same; the name CONTROL shows beside a service
    # comes from lvs.cf, and the old one stayed until something in the table changed.
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80", virtuals=3))
    renamed = lvs_cf("192.0.2.80", virtuals=3).replace("virtual vs1 {", "virtual web {")
    assert writes(worker.round(renamed)) == ["INSERT x1"]
    assert shown("web")["service"] == "TCP  192.0.2.80:8001"
    assert not WorkerTableService.objects.filter(virtual="vs1").exists()


def test_nothing_published_leaves_no_row(tmp_path):
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80", virtuals=3))
    worker.now += STATUS_EVERY
    worker.writer.write(Enforced(None, None), NOTHING_DOWN)
    assert not WorkerTableService.objects.exists()


def test_a_worker_whose_table_another_wrote_since_writes_its_own_whole(tmp_path):
    """Two directors' workers on one database: after the other one's write, the next change
    writes this worker's whole table, so what is shown is one worker's table, never a mix."""
    mine, other = Worker(tmp_path), Worker(tmp_path)
    mine.round(lvs_cf("192.0.2.80", virtuals=10))
    other.round(lvs_cf("192.0.2.90", virtuals=12))
    mine.round(lvs_cf("192.0.2.80", virtuals=10, weight=5))
    services = list(WorkerTableService.objects.values_list("service", flat=True))
    assert services == [f"TCP  192.0.2.80:{8000 + n}" for n in range(10)]
    assert shown("vs0")["destinations"][0]["weight"] == 5


@pytest.mark.django_db(transaction=True)
def test_two_workers_writing_their_tables_at_once_leave_one_workers_table(tmp_path):
    def run(vip: str, virtuals: int) -> None:
        worker = Worker(tmp_path)
        for weight in range(1, 6):
            worker.round(lvs_cf(vip, virtuals=virtuals, weight=weight))

    at_once(lambda: run("192.0.2.80", 30), lambda: run("192.0.2.90", 40))
    services = list(WorkerTableService.objects.values_list("service", "row"))
    vips = {label.split()[1].split(":")[0] for label, _row in services}
    assert vips in ({"192.0.2.80"}, {"192.0.2.90"}), vips
    assert len(services) == (30 if vips == {"192.0.2.80"} else 40)
    assert WorkerStatus.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("verb", ["INSERT", "DELETE"])
def test_a_table_write_chosen_as_a_deadlocks_victim_is_run_again_whole(tmp_path, verb):
    worker = Worker(tmp_path)
    worker.round(lvs_cf("192.0.2.80", virtuals=5))
    deadlock = DeadlockOnce(WorkerTableService, verb)
    with deadlock.hook():
        worker.round(lvs_cf("192.0.2.80", virtuals=4, first=1, weight=9))
    assert deadlock.victims == 1
    assert set(WorkerTableService.objects.values_list("virtual", flat=True)) == {
        f"vs{n}" for n in range(1, 5)
    }
    assert shown("vs1")["destinations"][0]["weight"] == 9


def test_a_table_rewritten_by_a_fixture_shows_at_once(admin_client):
    report(rows=[service("TCP  192.0.2.240:3306", "mysql", destination("192.0.2.242"))])
    assert "192.0.2.242:3306" in live_table(admin_client)
    replace_table([service("TCP  192.0.2.240:3306", "mysql", destination("192.0.2.243"))])
    page = live_table(admin_client)
    assert "192.0.2.243:3306" in page and "192.0.2.242" not in page


def many(count: int) -> list[dict]:
    return [
        service(f"TCP  192.0.2.1:{1000 + i}", f"vs{i:04d}", destination("203.0.113.1"))
        for i in range(count)
    ]


def rows_read(client, path: str, **query) -> tuple[int, list[str]]:
    """How many queries a load sent, and those that read the services' shown rows."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, query).status_code == 200
    column = connection.ops.quote_name("row")
    reads = [q["sql"] for q in queries.captured_queries if TABLE in q["sql"] and column in q["sql"]]
    return len(queries), reads


def a_page_alone(sql: str) -> bool:
    """Whether a read of the rows is cut to a page: by LIMIT, or by the keys of a page."""
    if " LIMIT " in sql.upper():
        return True
    keys = sql.split(" IN (", 1)[1].split(")", 1)[0]
    return keys.count(",") + 1 <= SERVICES_PER_PAGE


@pytest.mark.parametrize(
    "query",
    [{}, {"page": "3"}, {"q": "vs00"}, {"show": "problems"}],
    ids=["first-page", "third-page", "search", "problems"],
)
def test_control_reads_the_services_of_its_page_alone_in_as_many_queries_at_any_size(
    admin_client, query
):
    for virtual in ("vs0001", "vs0030"):  # something for "only down or held" to show
        health("203.0.113.1", "down", "connection refused", virtual=virtual)
    sizes = []
    for count in (40, 400):
        report(rows=many(count))
        sizes.append(rows_read(admin_client, reverse("monitoring:live_panel"), **query))
    (few, few_reads), (more, more_reads) = sizes
    assert few == more
    (read,) = more_reads  # one read of the rows: the page's alone
    assert a_page_alone(read)


def test_the_apis_live_table_reads_its_page_alone_in_as_many_queries_at_any_size(admin_client):
    sizes = []
    for count in (150, 450):
        report(rows=many(count))
        sizes.append(rows_read(admin_client, "/api/live/", page="2"))
    (few, _), (more, more_reads) = sizes
    assert few == more
    (read,) = more_reads
    assert a_page_alone(read)


class Traffic:
    """A kernel whose table carries connection counters the test moves (traffic), and a status
    thread whose table writes each cost `cost` seconds of CPU."""

    def __init__(self, tmp_path, text: str, cost: float) -> None:
        self.config = parse(text)[0]
        self.weight, self.moves, self.cpu, self.cost = 1, 0, 0.0, cost
        fake = kernel(tmp_path)
        fake.dump = self.dump
        self.now = time.time()
        self.writer = StatusWriter(fake, lambda: self.now, cpu_clock=self.spend)

    def spend(self) -> float:
        self.cpu += self.cost  # read at the start of a table write and at its end
        return self.cpu

    def dump(self) -> dict:
        table = desired_state(self.config, frozenset()).table
        for entry in table.values():
            for key, dest in entry.destinations.items():
                entry.destinations[key] = replace(dest, active_conn=self.moves, weight=self.weight)
        return table

    def round(self) -> int:
        """One round (the counters moved since the last): the active connections shown."""
        self.now += STATUS_EVERY
        self.moves += 1
        assert self.writer.write(Enforced(self.config, 1), NOTHING_DOWN)
        return shown("vs0")["destinations"][0]["active"]


def test_counters_alone_are_rewritten_as_often_as_a_tenth_of_a_core_allows(tmp_path):
    # Traffic moves every service's counters every round; at 10,000 x 10 rewriting the shown
    # table each time cost the status thread 0.6 s of CPU every 2 s.
    cheap = Traffic(tmp_path, lvs_cf("192.0.2.80", virtuals=3), cost=0.05)
    assert [cheap.round() for _ in range(3)] == [1, 2, 3]  # 0.5 s of budget: every round
    WorkerTableService.objects.all().delete()
    dear = Traffic(tmp_path, lvs_cf("192.0.2.80", virtuals=3), cost=0.5)  # 5 s of budget
    assert [dear.round() for _ in range(4)] == [1, 1, 1, 4]
    assert COUNTERS_SHARE == 0.1


def test_a_weight_that_changed_is_shown_at_once_whatever_the_counters_budget(tmp_path):
    dear = Traffic(tmp_path, lvs_cf("192.0.2.80", virtuals=3), cost=0.5)
    dear.round()
    dear.weight = 7
    assert dear.round() == 2  # written, with its counters as they are now
    assert shown("vs0")["destinations"][0]["weight"] == 7
