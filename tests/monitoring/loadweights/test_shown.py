"""What CONTROL/MONITORING and /metrics show of the load weights the worker wrote."""

from pathlib import Path

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from monitoring.live.worker_table import replace_table
from monitoring.loadweights.shown import publish_rows
from monitoring.loadweights.tags import load_rows
from monitoring.metrics.exposition import load_weights
from monitoring.models import WorkerStatus

ROWS = [
    {"virtual": "db", "address": "192.0.2.21", "port": 3306, "monitor": "mysql",
     "configured": 100, "load_weight": 150, "load": 0.0, "held": None, "down": None,
     "why": "load 0.00 (mysql: 0 other statements running): raised", "since": 1.0},
    {"virtual": "db", "address": "192.0.2.22", "port": 3306, "monitor": "mysql",
     "configured": 100, "load_weight": 100, "load": None, "held": None, "down": None,
     "why": "", "since": 1.0},
    {"virtual": "web", "address": "192.0.2.31", "port": 80, "monitor": "agent",
     "configured": 10, "load_weight": 10, "load": None, "held": "drain",
     "down": "disk full", "why": "agent: drain down", "since": 1.0},
]  # fmt: skip
TABLE = [
    {"service": "TCP  192.0.2.20:3306", "virtual": "db", "destinations": [
        {"address": "192.0.2.21", "port": 3306, "weight": 150},
        {"address": "192.0.2.22", "port": 3306, "weight": 3},
    ]},
]  # fmt: skip


def test_the_servers_the_load_moved_come_first_with_the_kernels_weight():
    kernel = {("db", "192.0.2.21", 3306): 150, ("db", "192.0.2.22", 3306): 3}
    shown = load_rows(ROWS, kernel)
    assert [(r["address"], r["current"], r["moved"]) for r in shown] == [
        ("192.0.2.21", 150, True),
        ("192.0.2.31", None, True),
        ("192.0.2.22", 3, False),  # slow start ramping: the kernel's weight, not the load's
    ]


@pytest.mark.django_db
def test_control_shows_configured_and_current_weight_and_why(admin_client, settings, tmp_path):
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    WorkerStatus.objects.create(pk=1)
    replace_table(TABLE)
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    assert "WEIGHTS THAT FOLLOW LOAD" not in html  # nothing follows load: no section
    publish_rows(Path(settings.LVSADMIN_APPLY_STATE), ROWS)
    html = admin_client.get(reverse("monitoring:control")).content.decode()
    section = html.split('id="load-weights-title"', 1)[1].split("</section>", 1)[0]
    assert "<th>CONFIGURED WEIGHT</th><th>CURRENT WEIGHT</th><th>WHY</th>" in section
    assert (
        "<td>192.0.2.21:3306</td>\n        <td>mysql</td>\n        <td>100</td>\n"
        "        <td>150</td>\n        <td>load 0.00 (mysql: 0 other statements running): raised"
    ) in section
    assert "drain, held by the agent" in section and "down by the agent: disk full" in section


def test_metrics_has_the_configured_and_load_weights_and_the_agents_down():
    families = {f.name: f for f in text_string_to_metric_families(load_weights(ROWS))}
    configured = {
        s.labels["address"]: s.value
        for s in families["lvsadmin_real_server_configured_weight"].samples
    }
    assert configured == {"192.0.2.21": 100, "192.0.2.22": 100, "192.0.2.31": 10}
    load_weight = {
        s.labels["address"]: s.value for s in families["lvsadmin_real_server_load_weight"].samples
    }
    assert load_weight["192.0.2.21"] == 150
    [load] = families["lvsadmin_real_server_load"].samples
    assert (load.labels["monitor"], load.value) == ("mysql", 0.0)
    down = {
        s.labels["address"]: s.value for s in families["lvsadmin_real_server_agent_down"].samples
    }
    assert down == {"192.0.2.21": 0, "192.0.2.22": 0, "192.0.2.31": 1}
    assert load_weights([]) == ""
