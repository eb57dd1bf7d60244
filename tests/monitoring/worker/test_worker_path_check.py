"""The worker's checks through the forwarding path, step by step on the in-memory driver: the
reason reaches the health row, CONTROL's table and the API; the private services are in the
kernel table but never shown as the operator's; a clean stop removes them.

The probes are replaced by a stand-in (the real server that "lacks the VIP" answers directly but
not through the path): these real servers are TEST-NET addresses, and a worker on the host
sends no traffic but to loopback. The probes themselves are proven in tests/monitoring/checks
and the whole path in the lab VM (tests/lab/test_path_check_lab.py)."""

from __future__ import annotations

import asyncio

import pytest

from monitoring.api.live_table import live_table
from monitoring.checks import probes
from monitoring.checks.probes import ProbeResult
from monitoring.ipvs import drivers
from monitoring.ipvs.table import ServiceKey
from monitoring.live.worker_table import all_rows, ipvsadm_text
from monitoring.models import RealServerHealth, Revision
from monitoring.worker import loop
from monitoring.worker.loop import Worker
from virtualservers.lvsconf.paths import is_path_mark

pytestmark = pytest.mark.django_db(transaction=True)
VIP = "192.0.2.240"
OPERATORS = ServiceKey.for_address("tcp", VIP, 3306)
HALF_SET_UP = "192.0.2.242"

LVS_CF = f"""serial_no = 1
network = direct
virtual mysql {{
     active = 1
     address = {VIP} eth0:1
     port = 3306
     scheduler = lc
     protocol = tcp
     timeout = 2
     reentry = 4
     server rs1 {{
         address = 192.0.2.241
         active = 1
     }}
     server rs2 {{
         address = {HALF_SET_UP}
         active = 1
     }}
}}
"""


@pytest.fixture
def memory(monkeypatch, settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    driver = drivers.MemoryDriver()
    monkeypatch.setattr(drivers, "_MEMORY_SINGLETON", driver)
    return driver


@pytest.fixture
def half_set_up(monkeypatch) -> list[tuple[str, int | None]]:
    """Every check answers, except rs2's through the path (no VIP on its lo). Records
    (address, mark or None) of each check made."""
    made: list[tuple[str, int | None]] = []

    async def stand_in(address, port, spec, path=None):
        made.append((address, None if path is None else path.mark))
        if path is not None and address == HALF_SET_UP:
            return ProbeResult(False, 2.0, "connect timed out after 2 s")
        return ProbeResult(True, 0.001)

    monkeypatch.setattr(probes, "probe", stand_in)
    monkeypatch.setattr(loop, "is_plain_connect", lambda spec: False)
    return made


def check_all(worker: Worker) -> None:
    worker.book.reschedule_all(0.0)

    async def run() -> None:
        limit = asyncio.Semaphore(10)
        await asyncio.gather(*(worker.run_check(s, limit) for s in worker.book.due()))

    asyncio.run(run())


def private(table) -> set[ServiceKey]:
    return {key for key in table if key.protocol == "fwm" and is_path_mark(key.fwmark)}


def test_a_server_answering_only_directly_is_down_with_the_path_reason_everywhere(
    memory, half_set_up
) -> None:
    Revision.objects.create(
        serial_no=1, text=LVS_CF, checks={"mysql": {"kind": "mysql", "mysql_user": "monitor"}}
    )
    worker = Worker("memory", arp_count=0)
    worker.open_driver()
    worker.load_config()
    check_all(worker)
    # Until its private service is in the kernel, a path check could only fail: direct only.
    assert {mark for _address, mark in half_set_up} == {None}
    assert not worker.book.down()
    worker.apply_if_needed()
    half_set_up.clear()
    check_all(worker)
    worker.apply_if_needed()
    worker.write_status(force=True)

    # Checked both ways: each real server directly and through its own private mark.
    marks = {address: mark for address, mark in half_set_up if mark is not None}
    assert sorted(half_set_up, key=str) == sorted(
        [(a, None) for a in marks] + list(marks.items()), key=str
    )
    assert len(set(marks.values())) == 2
    # rs2 is out of the operator's service; the private services hold one server each.
    assert set(memory.table[OPERATORS].destinations) == {("192.0.2.241", 3306)}
    assert {key.fwmark for key in private(memory.table)} == set(marks.values())
    # The reason, in the health row, CONTROL's table and the API.
    row = RealServerHealth.objects.get(address=HALF_SET_UP)
    expected = (
        f"answers on {HALF_SET_UP}:3306 but not through VIP {VIP}:3306 (connect timed out "
        "after 2 s): is the VIP on its lo (with arp_ignore=1, arp_announce=2)? See Set up"
    )
    assert (row.state, row.last_error) == ("down", expected)
    assert [service["service"] for service in all_rows()] == [f"TCP  {VIP}:3306"]
    assert "FWM" not in ipvsadm_text()
    (service,) = live_table()["services"]
    assert [out["health"]["last_error"] for out in service["out_of_table"]] == [expected]

    # A clean stop: the private services go, the operator's table stays as it is.
    operators = memory.table[OPERATORS]
    assert worker.kernel.remove_path_services(worker.config)
    assert set(memory.table) == {OPERATORS} and memory.table[OPERATORS] == operators


def test_a_clean_stop_of_the_running_worker_removes_its_private_services(
    memory, half_set_up
) -> None:
    Revision.objects.create(serial_no=1, text=LVS_CF, checks={})
    worker = Worker("memory", arp_count=0)

    async def scenario() -> None:
        task = asyncio.create_task(worker.run())
        for _ in range(100):
            await asyncio.sleep(0.05)
            if private(memory.table):
                break
        assert len(private(memory.table)) == 2
        worker.stop()
        await task

    asyncio.run(scenario())
    assert private(memory.table) == set() and OPERATORS in memory.table


def test_with_path_check_0_a_server_is_checked_on_its_own_address_only(memory, half_set_up) -> None:
    text = LVS_CF.replace("     reentry = 4\n", "     reentry = 4\n     path_check = 0\n")
    Revision.objects.create(serial_no=1, text=text, checks={})
    worker = Worker("memory", arp_count=0)
    worker.open_driver()
    worker.load_config()
    check_all(worker)
    worker.apply_if_needed()
    assert {mark for _address, mark in half_set_up} == {None}
    assert set(memory.table) == {OPERATORS} and len(memory.table[OPERATORS].destinations) == 2
