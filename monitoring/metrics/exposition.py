"""Prometheus metrics, built at scrape time from what the web process already has: the live
table's rows and the heartbeat the worker writes, the health rows, the revisions and the
audit trail, and the worker's two small files (monitoring.metrics.counters). Nothing is kept
between scrapes: each scrape gets a fresh registry with one collector, so there is no global
state to go stale or to share between gunicorn's processes, and no netlink.

Names follow node_exporter's ipvs collector where they overlap (node_ipvs_*, with its label
names); everything else is lvsadmin_*.

The families with a line per real server (three gauges per backend in the kernel table, the
health of each, and five traffic counters per backend and per service) are written as text
here, in the format generate_latest() writes (tests compare the two): at 1,000 x 10 they are
92,000 lines, and generate_latest() validates and escapes every label name and value of every
line (256,000 calls for the first 37,000 lines alone), which took 2.2 s where a scrape may cost
200 ms. Here the labels of a service and of a real server are escaped once each and built once
per line, and the traffic counters are written as integers (see traffic()).
Everything else is prometheus_client's families and generate_latest().
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from monitoring.arpguard.watch import read_conflicts
from monitoring.bgp.views import bgp_context
from monitoring.live.worker_table import all_rows
from monitoring.loadweights.shown import read_rows
from monitoring.metrics.counters import IPVS_STATS_FIELDS, name_key, read_json, sibling
from monitoring.models import AuditEntry, RealServerHealth, Revision, WorkerStatus
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.role import read_role
from monitoring.worker.heartbeat import last_seen

ROLES = ("active", "standby", "fault", "single")
FRESH_SECONDS = 10.0  # as CONTROL/MONITORING: an older heartbeat means the worker is stopped
IPVS_HELP = {
    "connections": "The total number of connections made.",
    "incoming_packets": "The total number of incoming packets.",
    "outgoing_packets": "The total number of outgoing packets.",
    "incoming_bytes": "The total amount of incoming data.",
    "outgoing_bytes": "The total amount of outgoing data.",
}


def _counts(
    name: str, documentation: str, label: str, values: tuple[str, ...], counts: object
) -> Iterator[CounterMetricFamily]:
    """One counter family, a sample per label value, from the worker's {value: count} (none
    when the worker published no such counts)."""
    if not isinstance(counts, dict):
        return
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value in values:
        family.add_metric([value], float(counts.get(value, 0)))
    yield family


def director_role() -> str:
    """This director's role ("active", "standby", "fault" or "single"), from the role file
    keepalived's notify hook writes."""
    return read_role(redundancy().role_file).role


def service_labels(label: str) -> tuple[str, str, str, str]:
    """(proto, local_address, local_port, local_mark) from a service as ipvsadm -Ln names it
    ("TCP  192.0.2.1:80", "UDP  [2001:db8::1]:53", "FWM  5", "FWM  5 IPv6"), with
    node_exporter's values: no address and port 0 for a firewall mark, no mark otherwise."""
    parts = label.split()
    proto = parts[0] if parts else ""
    if proto == "FWM":
        return proto, "", "0", parts[1] if len(parts) > 1 else ""
    address, _, port = (parts[1] if len(parts) > 1 else "").rpartition(":")
    return proto, address.strip("[]"), port, ""


def _histogram(name: str, documentation: str, data: dict) -> HistogramMetricFamily | None:
    bounds, counts = data.get("bounds") or [], data.get("counts") or []
    if len(counts) != len(bounds) + 1:
        return None
    buckets, total = [], 0
    for bound, count in zip([*bounds, float("inf")], counts, strict=True):
        total += count
        buckets.append((floatToGoString(bound), total))
    return HistogramMetricFamily(
        name, documentation, buckets=buckets, sum_value=float(data.get("sum", 0.0))
    )


class LvsCollector:
    """One scrape's metric families, except the per-real-server ones (see per_real_server)."""

    def __init__(self, status: dict, worker: dict, now: datetime | None = None) -> None:
        self.status = status  # WorkerStatus' heartbeat, serial_no, kernel_ok
        self.worker = worker  # the worker's metrics file
        self.now = now or timezone.now()

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the families are only known at scrape

    def collect(self) -> Iterator[Metric]:
        status, worker = self.status, self.worker
        yield from self._kernel_totals(worker.get("ipvs"))
        yield from self._worker(status, worker)
        yield from self._revisions(status)
        role = GaugeMetricFamily(
            "lvsadmin_director_role",
            "This director's role: 1 for the role it has now (active, standby, fault or single).",
            labels=["role"],
        )
        current = director_role()
        for name in ROLES:
            role.add_metric([name], 1.0 if name == current else 0.0)
        yield role
        yield from self._bgp(bgp_context()["bgp"])

    def _bgp(self, bgp: dict | None) -> Iterator[Metric]:
        """BGP mode only: the sessions, what is announced, and this director's connections (its
        share is this over the sum of every director's: `sum by (vip)` in Prometheus)."""
        if bgp is None:
            return
        up = GaugeMetricFamily(
            "lvsadmin_bgp_session_up", "1 while the BGP session is Established.", labels=["session"]
        )
        uptime = GaugeMetricFamily(
            "lvsadmin_bgp_session_uptime_seconds",
            "Seconds since the BGP session last changed state, while it is Established.",
            labels=["session"],
        )
        for session in bgp["sessions"]:
            if "name" not in session:
                continue  # BIRD's socket did not answer: no session is known
            up.add_metric([session["name"]], 1.0 if session.get("established") else 0.0)
            if session.get("established") and session.get("uptime") is not None:
                uptime.add_metric([session["name"]], float(session["uptime"]))
        announced = GaugeMetricFamily(
            "lvsadmin_bgp_vip_announced",
            "1 while this director announces the VIP by BGP, 0 while it withdraws it.",
            labels=["vip"],
        )
        connections = GaugeMetricFamily(
            "lvsadmin_bgp_vip_connections",
            "Connections (active and inactive) this director holds on the VIP.",
            labels=["vip"],
        )
        for vip in bgp["vips"]:
            announced.add_metric([vip["vip"]], 1.0 if vip["announced"] else 0.0)
            connections.add_metric([vip["vip"]], float(vip["connections"]))
        yield from (up, uptime, announced, connections)
        yield GaugeMetricFamily(
            "lvsadmin_bgp_out_of_service",
            "1 while an operator has taken this director out of service (nothing announced).",
            value=1.0 if bgp["out_of_service"] else 0.0,
        )

    def _kernel_totals(self, totals: dict | None) -> Iterator[Metric]:
        if not isinstance(totals, dict):
            return  # no kernel (the memory driver) or no worker yet
        for field in IPVS_STATS_FIELDS:
            if field in totals:
                yield CounterMetricFamily(
                    f"node_ipvs_{field}", IPVS_HELP[field], value=float(totals[field])
                )

    def _worker(self, status: dict, worker: dict) -> Iterator[Metric]:
        heartbeat = status.get("heartbeat")
        age = (self.now - heartbeat).total_seconds() if heartbeat else None
        yield GaugeMetricFamily(
            "lvsadmin_worker_up",
            f"1 while the worker's heartbeat is fresh (under {FRESH_SECONDS:g} s old).",
            value=1.0 if age is not None and age < FRESH_SECONDS else 0.0,
        )
        if age is not None:
            yield GaugeMetricFamily(
                "lvsadmin_worker_heartbeat_age_seconds",
                "Seconds since the worker's last heartbeat (written every 2 s).",
                value=max(age, 0.0),
            )
        yield GaugeMetricFamily(
            "lvsadmin_kernel_ok",
            "1 when the worker can read and change the IPVS table.",
            value=1.0 if status.get("kernel_ok") else 0.0,
        )
        latency = _histogram(
            "lvsadmin_check_latency_seconds",
            "Duration of health checks since the worker started.",
            worker.get("check_latency") or {},
        )
        if latency is not None:
            yield latency
        yield from _counts(
            "lvsadmin_health_transitions",
            "Real servers taken out (to=down) or put back (to=up) by health checks, since the "
            "worker started.",
            "to",
            ("up", "down"),
            worker.get("transitions"),
        )
        yield from _counts(
            "lvsadmin_kernel_applies",
            "Changes of the IPVS table by the worker (a health change, a new revision, drift "
            "repair), by result, since the worker started.",
            "result",
            ("ok", "error"),
            worker.get("applies"),
        )
        duration = _histogram(
            "lvsadmin_kernel_apply_duration_seconds",
            "Duration of the worker's changes of the IPVS table since it started.",
            worker.get("apply_duration") or {},
        )
        if duration is not None:
            yield duration

    def _revisions(self, status: dict) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "lvsadmin_applies",
            "Revisions published (Apply and restore), from the audit trail.",
            value=float(AuditEntry.objects.filter(action="apply").count()),
        )
        latest = Revision.objects.order_by("-serial_no").values("serial_no", "created_at").first()
        if latest is not None:
            yield GaugeMetricFamily(
                "lvsadmin_published_serial",
                "Serial number of the newest published revision.",
                value=float(latest["serial_no"]),
            )
            yield GaugeMetricFamily(
                "lvsadmin_published_timestamp_seconds",
                "When the newest revision was published (Unix time).",
                value=latest["created_at"].timestamp(),
            )
        if status.get("serial_no") is not None:
            yield GaugeMetricFamily(
                "lvsadmin_enforced_serial",
                "Serial number of the revision the worker enforces (differs from "
                "lvsadmin_published_serial until it picks up a new one).",
                value=float(status["serial_no"]),
            )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _header(name: str, documentation: str) -> str:
    return f"# HELP {name} {documentation}\n# TYPE {name} gauge\n"


BACKEND_FAMILIES = (
    ("node_ipvs_backend_connections_active",
     "The current active connections by local and remote address."),
    ("node_ipvs_backend_connections_inactive",
     "The current inactive connections by local and remote address."),
    ("node_ipvs_backend_weight", "The current backend weight by local and remote address."),
)  # fmt: skip
HEALTH_DOC = (
    "Health of each checked real server: 1 up, 0 down (the reason is on CONTROL/MONITORING); "
    "a server not checked yet is not listed."
)


# node_exporter's ipvs collector has the kernel's traffic counters only as global totals
# (node_ipvs_connections_total, ...) and per backend only gauges; it names no per-service or
# per-backend counter. Putting such names under node_ipvs_* would claim its namespace (a later
# node_exporter family of the same name with other labels would clash in the same Prometheus), so
# they are lvsadmin_ipvs_service_* and lvsadmin_ipvs_backend_*, with the same five fields as its
# totals and the labels of its per-backend families (plus the names from lvs.cf).
TRAFFIC_WHAT = {
    "connections": "Connections scheduled",
    "incoming_packets": "Packets received",
    "outgoing_packets": "Packets sent",
    "incoming_bytes": "Bytes received",
    "outgoing_bytes": "Bytes sent",
}
SERVICE_TRAFFIC = tuple(
    (f"lvsadmin_ipvs_service_{field}_total",
     f"{TRAFFIC_WHAT[field]} by this virtual service since it was added to the kernel.")
    for field in IPVS_STATS_FIELDS
)  # fmt: skip
BACKEND_TRAFFIC = tuple(
    (f"lvsadmin_ipvs_backend_{field}_total",
     f"{TRAFFIC_WHAT[field]} by this real server of this virtual service since it was added.")
    for field in IPVS_STATS_FIELDS
)  # fmt: skip


class _Text:
    """Numbers formatted and names escaped once each per scrape: few distinct gauge values and
    names recur on thousands of lines."""

    def __init__(self) -> None:
        self.numbers: dict[object, str] = {}
        self.escaped: dict[str, str] = {}

    def number(self, value: object) -> str:
        text = self.numbers.get(value)
        if text is None:
            text = self.numbers[value] = floatToGoString(value)
        return text

    def label(self, value: str) -> str:
        text = self.escaped.get(value)
        if text is None:
            text = self.escaped[value] = _escape(value)
        return text


def _backend_labels(service: str, virtual: str) -> tuple[str, str]:
    """The parts of a per-backend line's labels before and after the real server's name. The
    addresses and ports are the kernel's, which need no escaping; `virtual` is escaped. Labels
    in name order, as generate_latest() writes them."""
    proto, local_address, local_port, mark = service_labels(service)
    head = (
        f'{{local_address="{local_address}",local_mark="{mark}",local_port="{local_port}",'
        f'proto="{proto}",real_server="'
    )
    return head, f'",virtual_server="{virtual}"}} '


def _counter_header(name: str, documentation: str) -> str:
    return f"# HELP {name} {documentation}\n# TYPE {name} counter\n"


def per_real_server(table: object, names: dict, health: Iterable[tuple]) -> str:
    """The node_ipvs_backend_* families (one line per real server in the kernel table) and
    lvsadmin_real_server_up (one per checked real server), as exposition text."""
    text = _Text()
    number, label = text.number, text.label
    (active_name, _), (inactive_name, _), (weight_name, _) = BACKEND_FAMILIES
    active: list[str] = []
    inactive: list[str] = []
    weight: list[str] = []
    for service in table if isinstance(table, list) else []:
        virtual = service.get("virtual", "")
        reals = names.get(virtual) or {}
        head, tail = _backend_labels(service.get("service", ""), label(virtual))
        for dest in service.get("destinations", []):
            address, port = dest["address"], dest["port"]
            real = label(reals.get(f"{address} {port}", ""))  # name_key(), inlined
            labels = f'{head}{real}",remote_address="{address}",remote_port="{port}{tail}'
            active.append(f"{active_name}{labels}{number(dest.get('active', 0))}\n")
            inactive.append(f"{inactive_name}{labels}{number(dest.get('inact', 0))}\n")
            weight.append(f"{weight_name}{labels}{number(dest.get('weight', 0))}\n")
    parts = []
    for (name, doc), lines in zip(BACKEND_FAMILIES, (active, inactive, weight), strict=True):
        parts.append(_header(name, doc))
        parts.extend(lines)
    name = "lvsadmin_real_server_up"
    parts.append(_header(name, HEALTH_DOC))
    for virtual, address, port, state in health:
        real = label((names.get(virtual) or {}).get(name_key(address, port), ""))
        parts.append(
            f'{name}{{real_server="{real}",remote_address="{address}",remote_port="{port}",'
            f'virtual_server="{label(virtual)}"}} '
            f"{'1.0' if state == 'up' else '0.0'}\n"
        )
    return "".join(parts)


def traffic(services: object, names: dict) -> str:
    """The lvsadmin_ipvs_service_*_total and lvsadmin_ipvs_backend_*_total counters, as
    exposition text, from the worker's .traffic rows (worker_metrics.traffic_rows).

    The values are the kernel's integers as they are ("2500000011"), where generate_latest()
    writes Go's float form ("2.500000011e+09"): both are what Prometheus' parser (Go's
    ParseFloat) reads, the integer is exact past 2**53, and formatting 55,000 distinct values
    as Go floats cost a quarter of a scrape at 1,000 x 10. A test parses both and compares."""
    label = _Text().label
    by_service: list[list[str]] = [[] for _ in SERVICE_TRAFFIC]
    by_backend: list[list[str]] = [[] for _ in BACKEND_TRAFFIC]
    service_names = [name for name, _doc in SERVICE_TRAFFIC]
    backend_names = [name for name, _doc in BACKEND_TRAFFIC]
    # The five fields unrolled: this loop writes 55,000 lines at 1,000 x 10.
    s0, s1, s2, s3, s4 = by_service
    b0, b1, b2, b3, b4 = by_backend
    n0, n1, n2, n3, n4 = service_names
    m0, m1, m2, m3, m4 = backend_names
    for row in services if isinstance(services, list) else []:
        if not isinstance(row, list) or len(row) != 8:
            continue  # a file of another version: its counters are left out, not misread
        service, virtual, conns, inpkts, outpkts, inbytes, outbytes, dests = row
        proto, local_address, local_port, mark = service_labels(service)
        virtual_label = label(virtual)
        labels = (
            f'{{local_address="{local_address}",local_mark="{mark}",local_port="{local_port}",'
            f'proto="{proto}",virtual_server="{virtual_label}"}} '
        )
        s0.append(f"{n0}{labels}{conns}\n")
        s1.append(f"{n1}{labels}{inpkts}\n")
        s2.append(f"{n2}{labels}{outpkts}\n")
        s3.append(f"{n3}{labels}{inbytes}\n")
        s4.append(f"{n4}{labels}{outbytes}\n")
        reals = names.get(virtual) or {}
        head, tail = _backend_labels(service, virtual_label)
        for address, port, conns, inpkts, outpkts, inbytes, outbytes in dests:
            real = label(reals.get(f"{address} {port}", ""))  # name_key(), inlined
            labels = f'{head}{real}",remote_address="{address}",remote_port="{port}{tail}'
            b0.append(f"{m0}{labels}{conns}\n")
            b1.append(f"{m1}{labels}{inpkts}\n")
            b2.append(f"{m2}{labels}{outpkts}\n")
            b3.append(f"{m3}{labels}{inbytes}\n")
            b4.append(f"{m4}{labels}{outbytes}\n")
    parts = []
    for (name, doc), lines in zip(
        (*SERVICE_TRAFFIC, *BACKEND_TRAFFIC), (*by_service, *by_backend), strict=True
    ):
        parts.append(_counter_header(name, doc))
        parts.extend(lines)
    return "".join(parts)


def arp_guard(found: dict) -> str:
    """The ARP guard's gauges: the VIPs it guards, and one series per foreign MAC answering for
    a VIP (absent when there is none, so an alert is `lvsadmin_vip_arp_conflict == 1`)."""
    if not found:
        return ""
    text = (
        _header("lvsadmin_arp_guard_vips", "IPv4 VIPs whose ARP answers the worker watches.")
        + f"lvsadmin_arp_guard_vips {int(found.get('guarded') or 0)}\n"
    )
    conflicts = found.get("conflicts") or []
    text += _header(
        "lvsadmin_vip_arp_conflict",
        "1 while a host other than the directors answers ARP for the VIP (owner: the real "
        "server with that MAC, if any).",
    )
    for c in conflicts:
        labels = ",".join(
            f'{key}="{_escape(str(c.get(key) or ""))}"' for key in ("vip", "mac", "owner")
        )
        text += f"lvsadmin_vip_arp_conflict{{{labels}}} 1\n"
    return text


LOAD_FAMILIES = (
    ("lvsadmin_real_server_configured_weight",
     "The weight lvs.cf gives the real server (weights that follow load start from it)."),
    ("lvsadmin_real_server_load_weight",
     "The weight the load monitor gives the real server (uptime and mysql: nanny's formula; "
     "agent: its percentage); slow start's ramp and a held state win over it in the kernel."),
    ("lvsadmin_real_server_load",
     "The real server's last load figure (uptime: 1-minute load; mysql: the documented rule)."),
    ("lvsadmin_real_server_agent_down",
     "1 while the real server's agent says down (the reason is on CONTROL/MONITORING)."),
)  # fmt: skip


def load_weights(rows: list[dict]) -> str:
    """The load monitor's gauges, one series per real server whose weight follows load."""
    if not rows:
        return ""
    families: list[list[str]] = [[], [], [], []]
    for row in rows:
        labels = (
            f'{{address="{_escape(str(row.get("address")))}",'
            f'monitor="{_escape(str(row.get("monitor")))}",port="{int(row.get("port") or 0)}",'
            f'virtual_server="{_escape(str(row.get("virtual")))}"}} '
        )
        values = (row.get("configured"), row.get("load_weight"), row.get("load"))
        for lines, value in zip(families, values, strict=False):
            if value is not None:
                lines.append(f"{labels}{floatToGoString(value)}\n")
        families[3].append(f"{labels}{1 if row.get('down') else 0}\n")
    return "".join(
        _header(name, doc) + "".join(name + line for line in lines)
        for (name, doc), lines in zip(LOAD_FAMILIES, families, strict=True)
    )


def exposition(state_path: Path) -> bytes:
    """The text exposition format of one scrape."""
    status = (
        WorkerStatus.objects.filter(pk=1).values("heartbeat", "serial_no", "kernel_ok").first()
    ) or {}
    if status:
        status["heartbeat"] = last_seen(status.get("heartbeat"), state_path)
    names = read_json(sibling(state_path, ".names")).get("names") or {}
    worker = read_json(sibling(state_path, ".metrics"))
    counters = read_json(sibling(state_path, ".traffic")).get("services")
    health = RealServerHealth.objects.exclude(state="unknown").values_list(
        "virtual_name", "address", "port", "state"
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LvsCollector(status, worker))
    text = per_real_server(all_rows(), names, health) + traffic(counters, names)
    text += arp_guard(read_conflicts(state_path)) + load_weights(read_rows(state_path))
    return text.encode() + generate_latest(registry)
