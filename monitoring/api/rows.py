"""The draft's virtual servers as plain rows, the shape the serializers document.

DRF's nested ModelSerializers cost about half a millisecond a real server (a second for the
1,000 real servers of 100 virtual servers on the development machine); reading the same fields
with three `values()` queries costs a small fraction of that, so the read views build their
answers here. tests/monitoring/api/test_api_rows.py checks that both give the same data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from rest_framework.serializers import BaseSerializer, Serializer

from monitoring.api import serializers as s
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer


def plain_fields(serializer_class: type[Serializer]) -> list[str]:
    """The serializer's fields that are model columns (not the nested ones)."""
    return [
        name
        for name, field in serializer_class().fields.items()
        if not isinstance(field, BaseSerializer)
    ]


def virtual_servers(ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Virtual servers (all of them, or those of `ids`) in the draft's order, each with its real
    servers and monitoring script, as VirtualServerSerializer shows them."""
    virtuals = VirtualServer.objects.order_by("position", "id")
    reals = RealServer.objects.order_by("position", "id")
    scripts = MonitoringScript.objects.all()
    if ids is not None:
        ids = list(ids)
        virtuals = virtuals.filter(id__in=ids)
        reals = reals.filter(virtual_server_id__in=ids)
        scripts = scripts.filter(virtual_server_id__in=ids)
    by_virtual: dict[int, list[dict]] = defaultdict(list)
    for row in reals.values("virtual_server_id", *plain_fields(s.RealServerSerializer)):
        by_virtual[row.pop("virtual_server_id")].append(row)
    script_of = {}
    for row in scripts.values("virtual_server_id", *plain_fields(s.MonitoringScriptSerializer)):
        script_of[row.pop("virtual_server_id")] = row
    rows = list(virtuals.values(*plain_fields(s.VirtualServerSerializer)))
    for row in rows:
        row["real_servers"] = by_virtual.get(row["id"], [])
        row["monitoring_script"] = script_of.get(row["id"])
    return rows
