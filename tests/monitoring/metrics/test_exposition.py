"""The /metrics families, read back from a known table, health rows, revisions and worker files;
names and labels as node_exporter's ipvs collector; valid exposition text."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from monitoring.ipvs import table as ipvs_table
from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey, Traffic
from monitoring.live.worker_table import replace_table
from monitoring.metrics import exposition as metrics
from monitoring.metrics.counters import WorkerMetrics, publish_traffic
from monitoring.models import AuditEntry, RealServerHealth, Revision, WorkerStatus
from monitoring.redundancy.role import write_role
from virtualservers.lvsconf.parse import parse

pytestmark = pytest.mark.django_db
TOKEN = "a-long-random-scrape-token-0123456789"
NODE_LABELS = ["local_address", "local_port", "remote_address", "remote_port", "proto",
               "local_mark"]  # fmt: skip

LVS_CF = """serial_no = 7
network = direct
virtual web {
     active = 1
     address = 192.0.2.80 eth0:1
     port = 80
     server web1 {
         address = 198.51.100.11
         active = 1
     }
     server web2 {
         address = 198.51.100.12
         port = 8080
         active = 1
     }
}
virtual dns6 {
     active = 1
     address = 2001:db8::53 eth0
     port = 53
     protocol = udp
     server ns1 {
         address = 2001:db8::a
         active = 1
     }
}
virtual marked {
     active = 1
     address = 192.0.2.90 eth0:2
     fwmark = 5
     server m1 {
         address = 198.51.100.21
         port = 443
         active = 1
     }
}
"""


def dest(address, port, weight, active, inact):
    return {"endpoint": f"{address}:{port}", "address": address, "port": port,
            "forward": "Route", "weight": weight, "active": active, "inact": inact}  # fmt: skip


TABLE = [
    {"service": "TCP  192.0.2.80:80", "scheduler": "wlc", "flags": "", "virtual": "web",
     "destinations": [dest("198.51.100.11", 80, 1, 3, 7), dest("198.51.100.12", 8080, 2, 0, 1)]},
    {"service": "UDP  [2001:db8::53]:53", "scheduler": "wlc", "flags": "", "virtual": "dns6",
     "destinations": [dest("2001:db8::a", 53, 5, 0, 9)]},
    {"service": "FWM  5", "scheduler": "wlc", "flags": "", "virtual": "marked",
     "destinations": [dest("198.51.100.21", 443, 1, 4, 0)]},
]  # fmt: skip


WEB = ServiceKey.for_address("tcp", "192.0.2.80", 80)
MARK = ServiceKey.for_fwmark(5)
BIG = Traffic(7, 5_000_000_000, 40, 2**40 + 1, 12_345)  # past u32 and past a float's form


def kernel_traffic() -> dict:
    """The kernel's counters as the worker reads them (a netlink dump), for two services."""
    web = ServiceEntry(Service(WEB, traffic=Traffic(10, 200, 150, 30_000, 90_000)))
    for address, port, traffic in [("198.51.100.11", 80, BIG),
                                   ("198.51.100.12", 8080, Traffic(3, 4, 5, 6, 7))]:  # fmt: skip
        web.destinations[(address, port)] = Destination(address, port, traffic=traffic)
    marked = ServiceEntry(Service(MARK, traffic=Traffic(1, 2, 3, 4, 5)))
    marked.destinations[("198.51.100.21", 443)] = Destination(
        "198.51.100.21", 443, traffic=Traffic(1, 2, 3, 4, 5)
    )
    return ipvs_table.traffic_of({WEB: web, MARK: marked})


@pytest.fixture
def known(settings, tmp_path):
    """What a worker would have written: the table, health rows, its three files."""
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    Revision.objects.create(serial_no=7, text=LVS_CF)
    Revision.objects.create(serial_no=8, text=LVS_CF.replace("serial_no = 7", "serial_no = 8"))
    WorkerStatus.objects.create(
        pk=1, heartbeat=timezone.now() - timedelta(seconds=3), serial_no=7, kernel_ok=True,
    )  # fmt: skip
    replace_table(TABLE)
    for address, port, state in [
        ("198.51.100.11", 80, "up"),
        ("198.51.100.12", 8080, "up"),
        ("198.51.100.13", 80, "down"),  # taken out: not in the kernel table
        ("198.51.100.14", 80, "unknown"),  # not checked yet
    ]:
        RealServerHealth.objects.create(virtual_name="web", address=address, port=port,
                                        state=state)  # fmt: skip
    worker = WorkerMetrics()
    for latency in (0.0004, 0.002, 0.002, 0.3, 12.0):
        worker.observe_check(latency, None)
    worker.observe_check(0.01, False)
    worker.observe_check(0.01, True)
    worker.observe_check(0.01, False)
    worker.observe_apply(0.004, ok=True)
    worker.observe_apply(3.0, ok=False)
    config, _warnings = parse(LVS_CF)
    worker.publish(Path(settings.LVSADMIN_APPLY_STATE), config, kernel=False)
    publish_traffic(
        Path(settings.LVSADMIN_APPLY_STATE), kernel_traffic(), {WEB: "web", MARK: "marked"}
    )
    return settings


def scrape() -> dict:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def samples(family, name=None):
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples
            if name is None or s.name == name}  # fmt: skip


def backend(local_address, local_port, remote_address, remote_port, proto, mark, virtual, real):
    return tuple(sorted({
        "local_address": local_address, "local_port": local_port,
        "remote_address": remote_address, "remote_port": remote_port, "proto": proto,
        "local_mark": mark, "virtual_server": virtual, "real_server": real,
    }.items()))  # fmt: skip


def test_backend_gauges_carry_node_exporters_names_and_labels_plus_the_servers_names(known):
    families = scrape()
    web1 = backend("192.0.2.80", "80", "198.51.100.11", "80", "TCP", "", "web", "web1")
    web2 = backend("192.0.2.80", "80", "198.51.100.12", "8080", "TCP", "", "web", "web2")
    ns1 = backend("2001:db8::53", "53", "2001:db8::a", "53", "UDP", "", "dns6", "ns1")
    m1 = backend("", "0", "198.51.100.21", "443", "FWM", "5", "marked", "m1")
    active = families["node_ipvs_backend_connections_active"]
    assert active.type == "gauge"
    assert samples(active) == {web1: 3, web2: 0, ns1: 0, m1: 4}
    assert samples(families["node_ipvs_backend_connections_inactive"]) == {
        web1: 7, web2: 1, ns1: 9, m1: 0}  # fmt: skip
    assert samples(families["node_ipvs_backend_weight"]) == {web1: 1, web2: 2, ns1: 5, m1: 1}
    assert set(active.samples[0].labels) == {*NODE_LABELS, "virtual_server", "real_server"}


def test_traffic_counters_per_service_and_per_real_server_carry_names_and_addresses(known):
    families = scrape()
    web = tuple(sorted({"local_address": "192.0.2.80", "local_port": "80", "proto": "TCP",
                        "local_mark": "", "virtual_server": "web"}.items()))  # fmt: skip
    mark = tuple(sorted({"local_address": "", "local_port": "0", "proto": "FWM",
                         "local_mark": "5", "virtual_server": "marked"}.items()))  # fmt: skip
    conns = families["lvsadmin_ipvs_service_connections"]
    assert conns.type == "counter"
    assert samples(conns, "lvsadmin_ipvs_service_connections_total") == {web: 10, mark: 1}
    assert samples(families["lvsadmin_ipvs_service_outgoing_bytes"]) == {web: 90_000, mark: 5}
    web1 = backend("192.0.2.80", "80", "198.51.100.11", "80", "TCP", "", "web", "web1")
    web2 = backend("192.0.2.80", "80", "198.51.100.12", "8080", "TCP", "", "web", "web2")
    m1 = backend("", "0", "198.51.100.21", "443", "FWM", "5", "marked", "m1")
    by_field = {
        field: samples(
            families[f"lvsadmin_ipvs_backend_{field}"], f"lvsadmin_ipvs_backend_{field}_total"
        )
        for field in BIG._fields
    }
    assert {field: values[web1] for field, values in by_field.items()} == BIG._asdict()
    assert by_field["incoming_packets"] == {web1: 5_000_000_000, web2: 4, m1: 2}
    assert families["lvsadmin_ipvs_backend_incoming_bytes"].type == "counter"


def test_no_traffic_file_no_traffic_samples(settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    families = scrape()
    assert samples(families["lvsadmin_ipvs_backend_connections"]) == {}
    assert samples(families["lvsadmin_ipvs_service_connections"]) == {}


def test_the_traffic_text_written_by_hand_reads_back_as_generate_latests():
    """The traffic families bypass generate_latest() for speed and write the kernel's integers
    where it writes Go floats: parsed, both say the same, and only the numbers' form differs."""
    awkward = 'we"b\\1\nx'
    rows = [["TCP  192.0.2.80:80", awkward, 10, 200, 150, 30_000, 2**40 + 1,
             [["198.51.100.11", 80, 7, 5_000_000_000, 40, 1_000_000, 0]]],
            ["FWM  5 IPv6", "m", 1, 2, 3, 4, 5, [["2001:db8::b", 443, 1, 2, 3, 4, 5]]]]  # fmt: skip
    names = {awkward: {"198.51.100.11 80": 'r"1'}}
    ours = metrics.traffic(rows, names)

    service_labels = ["local_address", "local_port", "proto", "local_mark", "virtual_server"]
    services = [CounterMetricFamily(name[: -len("_total")], doc, labels=service_labels)
                for name, doc in metrics.SERVICE_TRAFFIC]  # fmt: skip
    backends = [CounterMetricFamily(name[: -len("_total")], doc,
                                    labels=NODE_LABELS + ["virtual_server", "real_server"])
                for name, doc in metrics.BACKEND_TRAFFIC]  # fmt: skip
    for family, value in zip(services, rows[0][2:7], strict=True):
        family.add_metric(["192.0.2.80", "80", "TCP", "", awkward], value)
    for family, value in zip(services, rows[1][2:7], strict=True):
        family.add_metric(["", "0", "FWM", "5", "m"], value)
    for family, value in zip(backends, rows[0][7][0][2:], strict=True):
        family.add_metric(["192.0.2.80", "80", "198.51.100.11", "80", "TCP", "", awkward, 'r"1'],
                          value)  # fmt: skip
    for family, value in zip(backends, rows[1][7][0][2:], strict=True):
        family.add_metric(["", "0", "2001:db8::b", "443", "FWM", "5", "m", ""], value)

    class Fixed:
        def collect(self):
            return [*services, *backends]

    reference = CollectorRegistry(auto_describe=False)
    reference.register(Fixed())
    theirs = generate_latest(reference).decode()
    assert list(text_string_to_metric_families(ours)) == list(
        text_string_to_metric_families(theirs)
    )
    as_go_floats = re.sub(
        r" (\d+)$", lambda m: f" {floatToGoString(int(m[1]))}", ours, flags=re.MULTILINE
    )
    assert as_go_floats == theirs


def test_health_is_one_for_up_zero_for_down_and_unchecked_servers_are_left_out(known):
    up = scrape()["lvsadmin_real_server_up"]

    def key(address, port, real):
        return tuple(sorted({"virtual_server": "web", "real_server": real,
                             "remote_address": address, "remote_port": str(port)}.items()))  # fmt: skip

    assert samples(up) == {
        key("198.51.100.11", 80, "web1"): 1,
        key("198.51.100.12", 8080, "web2"): 1,
        key("198.51.100.13", 80, ""): 0,  # not in the published file: no name
    }
    assert all("reason" not in s.labels for s in up.samples)


def test_the_check_latency_histogram_and_transitions_come_from_the_worker(known):
    families = scrape()
    latency = families["lvsadmin_check_latency_seconds"]
    assert latency.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")}
    assert buckets["0.0005"] == 1 and buckets["0.0025"] == 3 and buckets["0.01"] == 6
    assert buckets["0.5"] == 7 and buckets["10.0"] == 7 and buckets["+Inf"] == 8
    (count,) = [s.value for s in latency.samples if s.name.endswith("_count")]
    (total,) = [s.value for s in latency.samples if s.name.endswith("_sum")]
    assert count == 8 and total == pytest.approx(12.3344)
    transitions = families["lvsadmin_health_transitions"]
    assert transitions.type == "counter"
    assert {s.labels["to"]: s.value for s in transitions.samples} == {"up": 1, "down": 2}


def test_kernel_applies_are_counted_and_timed(known):
    families = scrape()
    applies = families["lvsadmin_kernel_applies"]
    assert {s.labels["result"]: s.value for s in applies.samples} == {"ok": 1, "error": 1}
    duration = families["lvsadmin_kernel_apply_duration_seconds"]
    (count,) = [s.value for s in duration.samples if s.name.endswith("_count")]
    assert count == 2


def test_published_and_enforced_revisions_and_the_apply_count(known):
    # Each published revision is one "apply" in the audit trail (two in the fixture).
    assert scrape()["lvsadmin_applies"].samples[0].value == 2
    Revision.objects.create(serial_no=9, text=LVS_CF.replace("serial_no = 7", "serial_no = 9"))
    AuditEntry.objects.create(username="piranha", address="127.0.0.1", action="change",
                              target="virtual server web")  # fmt: skip
    families = scrape()
    assert families["lvsadmin_applies"].samples[0].value == 3
    assert families["lvsadmin_published_serial"].samples[0].value == 9
    assert families["lvsadmin_enforced_serial"].samples[0].value == 7
    published = families["lvsadmin_published_timestamp_seconds"].samples[0].value
    assert abs(published - timezone.now().timestamp()) < 60


def test_the_heartbeat_age_and_whether_the_worker_runs(known):
    families = scrape()
    assert 3 <= families["lvsadmin_worker_heartbeat_age_seconds"].samples[0].value < 30
    assert families["lvsadmin_worker_up"].samples[0].value == 1
    assert families["lvsadmin_kernel_ok"].samples[0].value == 1
    WorkerStatus.objects.update(heartbeat=timezone.now() - timedelta(minutes=5))
    families = scrape()
    assert families["lvsadmin_worker_up"].samples[0].value == 0
    assert families["lvsadmin_worker_heartbeat_age_seconds"].samples[0].value >= 300


def test_the_director_role_gauge_follows_the_role_file(known, tmp_path, settings):
    settings.LVSADMIN_ROLE_FILE = tmp_path / "director-role.json"
    roles = {s.labels["role"]: s.value for s in scrape()["lvsadmin_director_role"].samples}
    assert roles == {"active": 0, "standby": 0, "fault": 0, "single": 1}
    write_role(settings.LVSADMIN_ROLE_FILE, "standby", "keepalived: BACKUP")
    roles = {s.labels["role"]: s.value for s in scrape()["lvsadmin_director_role"].samples}
    assert roles == {"active": 0, "standby": 1, "fault": 0, "single": 0}


def test_the_kernels_global_counters_use_node_exporters_names(known, monkeypatch, tmp_path):
    stats = tmp_path / "ip_vs_stats"
    stats.write_text(
        "   Total Incoming Outgoing         Incoming         Outgoing\n"
        "   Conns  Packets  Packets            Bytes            Bytes\n"
        "      1F      3E8        0            1E240                0\n"
    )
    monkeypatch.setattr("monitoring.metrics.counters.PROC_IPVS_STATS", str(stats))
    WorkerMetrics().publish(Path(known.LVSADMIN_APPLY_STATE), None, kernel=True)
    families = scrape()
    assert families["node_ipvs_connections"].samples[0].value == 31
    assert families["node_ipvs_incoming_packets"].samples[0].value == 1000
    assert families["node_ipvs_incoming_bytes"].samples[0].value == 123456
    assert families["node_ipvs_outgoing_bytes"].type == "counter"


def test_without_a_worker_it_still_answers_with_what_it_knows(settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    settings.LVSADMIN_METRICS_TOKEN = TOKEN
    families = scrape()
    assert families["lvsadmin_worker_up"].samples[0].value == 0
    assert "lvsadmin_worker_heartbeat_age_seconds" not in families
    assert "lvsadmin_check_latency_seconds" not in families
    assert samples(families["node_ipvs_backend_weight"]) == {}


def test_the_text_written_by_hand_equals_generate_latest_for_the_same_samples():
    """The per-real-server families bypass generate_latest() for speed: same bytes."""
    awkward = 'we"b\\1\nx'
    table = [{"service": "TCP  192.0.2.80:80", "virtual": awkward,
              "destinations": [dest("198.51.100.11", 80, 1234567, 3, 7)]},
             {"service": "FWM  5 IPv6", "virtual": "m",
              "destinations": [dest("2001:db8::b", 443, 0, 0, 0)]}]  # fmt: skip
    names = {awkward: {"198.51.100.11 80": 'r"1'}}
    health = [(awkward, "198.51.100.11", 80, "up"), ("m", "2001:db8::b", 443, "down")]
    ours = metrics.per_real_server(table, names, health)

    reference = CollectorRegistry(auto_describe=False)
    families = []
    for name, doc in metrics.BACKEND_FAMILIES:
        families.append(GaugeMetricFamily(name, doc, labels=NODE_LABELS + ["virtual_server",
                                                                         "real_server"]))  # fmt: skip
    for values, numbers in [
        (["192.0.2.80", "80", "198.51.100.11", "80", "TCP", "", awkward, 'r"1'], (3, 7, 1234567)),
        (["", "0", "2001:db8::b", "443", "FWM", "5", "m", ""], (0, 0, 0)),
    ]:
        for family, number in zip(families, numbers, strict=True):
            family.add_metric(values, number)
    up = GaugeMetricFamily("lvsadmin_real_server_up", metrics.HEALTH_DOC,
                           labels=["virtual_server", "real_server", "remote_address",
                                   "remote_port"])  # fmt: skip
    up.add_metric([awkward, 'r"1', "198.51.100.11", "80"], 1)
    up.add_metric(["m", "", "2001:db8::b", "443"], 0)
    families.append(up)

    class Fixed:
        def collect(self):
            return families

    reference.register(Fixed())
    assert ours == generate_latest(reference).decode()


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("TCP  192.0.2.80:80", ("TCP", "192.0.2.80", "80", "")),
        ("UDP  [2001:db8::53]:53", ("UDP", "2001:db8::53", "53", "")),
        ("FWM  5", ("FWM", "", "0", "5")),
        ("FWM  5 IPv6", ("FWM", "", "0", "5")),
    ],
)
def test_service_labels_follow_node_exporter(label, expected):
    assert metrics.service_labels(label) == expected


def test_the_readme_names_every_role_the_director_role_gauge_exports():
    from pathlib import Path

    from monitoring.metrics.exposition import ROLES

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| `lvsadmin_director_role`")]
    assert [role for role in ROLES if f"`{role}`" not in row] == []
