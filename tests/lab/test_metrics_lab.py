"""The kernel's per-service and per-real-server traffic counters, as lvsadmin reads them (a netlink
dump through its own codec) and shows them in /metrics, equal `ipvsadm -Ln --stats --exact` read
back at the same moment, after MySQL traffic through a real IPVS service."""

from __future__ import annotations

import re
import time

from prometheus_client.parser import text_string_to_metric_families

from monitoring.ipvs.drivers.kernel import NetlinkDriver
from monitoring.ipvs.table import ServiceKey
from monitoring.metrics.counters import real_server_names, traffic_rows
from monitoring.metrics.exposition import traffic
from scripts.testbed import lvscf
from scripts.testbed.topology import BRIDGE, VIP, Topology, mysql_connect, run
from tests.lab.product import Applier
from virtualservers.lvsconf.parse import parse

CONFIG = lvscf.config(
    lvscf.virtual(
        "mysql", address=VIP, device=f"{BRIDGE}:1", port=3306, scheduler="rr",
        servers=lvscf.mysql_servers(),
    ),
    network="direct",
)  # fmt: skip
FIELDS = ("connections", "incoming_packets", "outgoing_packets", "incoming_bytes",
          "outgoing_bytes")  # fmt: skip
# "TCP  192.0.2.240:3306   4   40   0   2790   0" and "  -> 192.0.2.241:3306   2   20 ..."
_STATS_LINE = re.compile(
    r"^(?:TCP|UDP|FWM)?\s*(?:->\s*)?(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$"
)


def ipvsadm_stats() -> dict[str, tuple[int, ...]]:
    """`ipvsadm -Ln --stats --exact`: the five totals of the service ("TCP VIP:3306") and of
    each real server ("-> RIP:3306")."""
    totals: dict[str, tuple[int, ...]] = {}
    for line in run("ipvsadm", "-Ln", "--stats", "--exact").stdout.splitlines():
        match = _STATS_LINE.match(line)
        if match is None or line.startswith(("Prot", "IP Virtual")):
            continue
        name = ("-> " if "->" in line else "TCP ") + match[1]
        totals[name] = tuple(int(value) for value in match.groups()[1:])
    return totals


def settled(limit: float = 15.0) -> dict[str, tuple[int, ...]]:
    """The totals once they stop moving: the kernel folds its per-CPU counters into the totals
    that both ipvsadm and netlink report every 2 s (the rate estimator's tick)."""
    previous, deadline = ipvsadm_stats(), time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(2.2)
        now = ipvsadm_stats()
        if now == previous and now.get(f"TCP {VIP}:3306", (0,))[0] >= 4:
            return now
        previous = now
    raise AssertionError(f"the counters did not settle within {limit} s: {previous}")


def test_traffic_counters_in_metrics_equal_ipvsadms(topology: Topology, applier: Applier) -> None:
    applier.apply(CONFIG, in_process=True)
    for _ in range(4):  # round robin: two connections each, a query and a clean quit
        connection = mysql_connect(VIP)
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@server_id")
        connection.close()

    before = settled()
    driver = NetlinkDriver()
    try:
        table = driver.traffic()
    finally:
        driver.close()
    assert ipvsadm_stats() == before, "the counters moved while they were read"

    config, _warnings = parse(CONFIG)
    key = ServiceKey.for_address("tcp", VIP, 3306)
    rows = traffic_rows(table, {key: "mysql"})
    text = traffic(rows, real_server_names(config))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ours = {f"TCP {VIP}:3306": [], **{f"-> {d[0]}:{d[1]}": [] for d in rows[0][7]}}
    for field in FIELDS:
        service = families[f"lvsadmin_ipvs_service_{field}"].samples
        assert [s.labels["virtual_server"] for s in service] == ["mysql"]
        ours[f"TCP {VIP}:3306"].append(int(service[0].value))
        for sample in families[f"lvsadmin_ipvs_backend_{field}"].samples:
            endpoint = f"-> {sample.labels['remote_address']}:{sample.labels['remote_port']}"
            assert sample.labels["real_server"], sample.labels  # the name from lvs.cf
            ours[endpoint].append(int(sample.value))
    assert {name: tuple(values) for name, values in ours.items()} == before
    assert before[f"TCP {VIP}:3306"][0] == 4
