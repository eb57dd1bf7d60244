"""What the worker counts for /metrics and the files it leaves for the web process."""

import json
import os
import socket
import stat
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import Client

from monitoring.ipvs import drivers
from monitoring.ipvs.table import (
    Destination,
    Service,
    ServiceEntry,
    ServiceKey,
    Traffic,
    traffic_of,
)
from monitoring.metrics.counters import (
    Histogram,
    WorkerMetrics,
    publish_traffic,
    read_ipvs_stats,
    read_json,
    real_server_names,
    sibling,
    traffic_rows,
)
from monitoring.models import Revision
from monitoring.worker.status import Enforced, HealthSnapshot, StatusWriter
from virtualservers.lvsconf.parse import parse

TOKEN = "a-long-random-scrape-token-0123456789"


def test_a_histogram_bucket_holds_values_up_to_and_including_its_bound():
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1]
    assert histogram.as_dict()["sum"] == pytest.approx(8.65)


def test_the_kernels_global_counters_are_read_as_hexadecimal(tmp_path):
    stats = tmp_path / "ip_vs_stats"
    stats.write_text(
        "   Total Incoming Outgoing         Incoming         Outgoing\n"
        "   Conns  Packets  Packets            Bytes            Bytes\n"
        "       A       FF        1              100                2\n"
        "\n Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n"
        "       0        0        0                0                0\n"
    )
    assert read_ipvs_stats(str(stats)) == {
        "connections": 10, "incoming_packets": 255, "outgoing_packets": 1,
        "incoming_bytes": 256, "outgoing_bytes": 2,
    }  # fmt: skip
    assert read_ipvs_stats(str(tmp_path / "absent")) is None
    stats.write_text("garbage\n")
    assert read_ipvs_stats(str(stats)) is None


def test_real_server_names_are_keyed_by_the_address_and_port_the_checks_use():
    config, _warnings = parse(
        "serial_no = 1\nvirtual web {\n active = 1\n address = 192.0.2.80 eth0:1\n port = 80\n"
        " server a {\n  address = 198.51.100.1\n  active = 1\n }\n"
        " server b {\n  address = 198.51.100.2\n  port = 8080\n  active = 0\n }\n}\n"
    )
    assert real_server_names(config) == {"web": {"198.51.100.1 80": "a", "198.51.100.2 8080": "b"}}


def test_the_names_file_is_written_again_only_for_a_new_configuration(tmp_path):
    state = tmp_path / "apply-state.json"
    config, _warnings = parse("serial_no = 1\n")
    metrics = WorkerMetrics()
    metrics.publish(state, config, kernel=False)
    names = sibling(state, ".names")
    names.write_text('{"names": {"kept": {}}}')
    metrics.observe_check(0.01, True)
    metrics.publish(state, config, kernel=False)  # a heartbeat: same configuration
    assert read_json(names) == {"names": {"kept": {}}}
    assert read_json(sibling(state, ".metrics"))["transitions"] == {"up": 1, "down": 0}
    metrics.publish(state, parse("serial_no = 2\n")[0], kernel=False)
    assert read_json(names) == {"names": {}}


@pytest.mark.django_db(transaction=True)
def test_a_worker_pass_leaves_checks_and_applies_that_metrics_shows(
    settings, monkeypatch, tmp_path
):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    monkeypatch.setattr(drivers, "_MEMORY_SINGLETON", drivers.MemoryDriver())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    try:
        Revision.objects.create(
            serial_no=1,
            text=f"serial_no = 1\nnetwork = direct\nvirtual web {{\n active = 1\n"
            f" address = 192.0.2.80 eth0:1\n port = {port}\n timeout = 2\n"
            f" server web1 {{\n  address = 127.0.0.1\n  active = 1\n }}\n}}\n",
        )
        call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    finally:
        listener.close()
    data = json.loads(sibling(Path(settings.LVSADMIN_APPLY_STATE), ".metrics").read_text())
    assert sum(data["check_latency"]["counts"]) == 1
    assert data["applies"] == {"ok": 1, "error": 0} and data["ipvs"] is None
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert "lvsadmin_check_latency_seconds_count 1.0" in text
    assert (
        'node_ipvs_backend_weight{local_address="192.0.2.80",local_mark="",'
        f'local_port="{port}",proto="TCP",real_server="web1",remote_address="127.0.0.1",'
        f'remote_port="{port}",virtual_server="web"}} 1.0'
    ) in text
    assert (
        f'lvsadmin_real_server_up{{real_server="web1",remote_address="127.0.0.1",'
        f'remote_port="{port}",virtual_server="web"}} 1.0'
    ) in text


def test_traffic_rows_carry_each_service_and_destination_that_has_counters():
    web = ServiceKey.for_address("tcp", "192.0.2.80", 80)
    quiet = ServiceKey.for_address("udp", "192.0.2.80", 53)  # read from /proc: no counters
    table = {
        web: ServiceEntry(Service(web, traffic=Traffic(1, 2, 3, 4, 5))),
        quiet: ServiceEntry(Service(quiet)),
    }
    table[web].destinations = {
        ("198.51.100.12", 80): Destination("198.51.100.12", 80, traffic=Traffic(6, 7, 8, 9, 10)),
        ("198.51.100.11", 80): Destination("198.51.100.11", 80, traffic=Traffic(0, 0, 0, 0, 2**40)),
        ("198.51.100.13", 80): Destination("198.51.100.13", 80),
    }
    assert traffic_rows(traffic_of(table), {web: "web"}) == [
        ["TCP  192.0.2.80:80", "web", 1, 2, 3, 4, 5,
         [["198.51.100.11", 80, 0, 0, 0, 0, 2**40], ["198.51.100.12", 80, 6, 7, 8, 9, 10]]],
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_worker_leaves_the_kernels_traffic_counters_for_metrics(
    settings, monkeypatch, tmp_path
):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "state.json"
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    kernel = drivers.MemoryDriver()
    monkeypatch.setattr(drivers, "_MEMORY_SINGLETON", kernel)
    Revision.objects.create(
        serial_no=1,
        text="serial_no = 1\nnetwork = direct\nvirtual web {\n active = 1\n"
        " address = 192.0.2.80 eth0:1\n port = 80\n timeout = 2\n"
        " server web1 {\n  address = 198.51.100.11\n  active = 1\n }\n}\n",
    )
    call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    # Traffic through the table the worker made, as the kernel counts it.
    (entry,) = kernel.table.values()
    entry.service = replace(entry.service, traffic=Traffic(3, 30, 20, 3000, 2000))
    entry.destinations = {
        key: replace(dest, traffic=Traffic(3, 30, 20, 3000, 2000))
        for key, dest in entry.destinations.items()
    }
    call_command("lvsworker", "--once", "--driver", "memory", "--no-arp")
    traffic = read_json(sibling(Path(settings.LVSADMIN_APPLY_STATE), ".traffic"))
    assert traffic == {
        "services": [["TCP  192.0.2.80:80", "web", 3, 30, 20, 3000, 2000,
                      [["198.51.100.11", 80, 3, 30, 20, 3000, 2000]]]]
    }  # fmt: skip
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert (
        'lvsadmin_ipvs_backend_incoming_bytes_total{local_address="192.0.2.80",local_mark="",'
        'local_port="80",proto="TCP",real_server="web1",remote_address="198.51.100.11",'
        'remote_port="80",virtual_server="web"} 3000'
    ) in text


@pytest.mark.django_db
def test_a_worker_that_cannot_read_the_kernel_leaves_no_counters_from_before(tmp_path):
    state = tmp_path / "apply-state.json"
    key = ServiceKey.for_address("tcp", "192.0.2.80", 80)
    old = {key: ServiceEntry(Service(key, traffic=Traffic(1, 2, 3, 4, 5)))}
    publish_traffic(state, traffic_of(old), {key: "web"})
    kernel = SimpleNamespace(
        ok=False, message="no kernel access", driver=None, dump=lambda: None, held={},
        driver_name="netlink", state_path=state, traffic=lambda: None,
        metrics=SimpleNamespace(publish=lambda *args, **kwargs: None),
    )  # fmt: skip
    config = parse("serial_no = 1\nvirtual web {\n active = 1\n address = 192.0.2.80 eth0\n}\n")
    StatusWriter(kernel, time.time).write(
        Enforced(config[0], 1), HealthSnapshot([], frozenset(), 0), force=True
    )
    assert read_json(sibling(state, ".traffic")) == {"services": []}


def test_the_files_are_readable_by_the_state_directorys_group_only(tmp_path):
    state_dir = tmp_path / "lib"
    state_dir.mkdir()
    os.chown(state_dir, 0, 65534)  # root:lvsadmin in production
    WorkerMetrics().publish(state_dir / "apply-state.json", parse("serial_no = 1\n")[0], False)
    publish_traffic(state_dir / "apply-state.json", {}, {})
    for suffix in (".metrics", ".names", ".traffic"):
        info = sibling(state_dir / "apply-state.json", suffix).stat()
        assert stat.S_IMODE(info.st_mode) == 0o640 and info.st_gid == 65534


def test_the_quiet_passes_latencies_are_published_with_the_others():
    # The connect scanner counts the passes it does not report in a histogram of its own.
    metrics = WorkerMetrics()
    metrics.observe_check(0.02, None)
    metrics.quiet_latency.observe(0.0004)
    metrics.quiet_latency.observe(0.03)
    published = metrics.snapshot()["check_latency"]
    assert sum(published["counts"]) == 3
    assert published["counts"][0] == 1  # 0.4 ms: in the first bucket (0.5 ms)
    assert published["sum"] == pytest.approx(0.0504)
