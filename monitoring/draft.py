"""The draft (Django models) to and from an LvsConfig.

This sits in the wiring package because it reads all three apps (virtual servers, their real
servers and monitoring scripts); the apps themselves keep their one-way dependencies.
A blank model field means "absent from lvs.cf", so an imported file renders back as it was.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields

from django.core.exceptions import ValidationError
from django.db import transaction

from realservers.models import RealServer
from virtualservers.lvsconf import model as lvs
from virtualservers.models import (
    FailoverService,
    GlobalSettings,
    MonitoringScript,
    Redundancy,
    VirtualServer,
)


def _none(value: str | None) -> str | None:
    return value if value else None


def _global_fields(gs: GlobalSettings, rd: Redundancy) -> dict[str, object]:
    return {
        "primary": _none(gs.primary),
        "primary_private": _none(gs.primary_private),
        "primary_shared": _none(gs.primary_shared),
        "service": _none(gs.service),
        "rsh_command": _none(gs.rsh_command),
        "backup_active": rd.backup_active,
        "backup": _none(rd.backup),
        "backup_private": _none(rd.backup_private),
        "backup_shared": _none(rd.backup_shared),
        "heartbeat": rd.heartbeat,
        "heartbeat_port": rd.heartbeat_port,
        "keepalive": rd.keepalive,
        "deadtime": rd.deadtime,
        "network": _none(gs.network),
        "nat_router_ip": _none(gs.nat_router_ip),
        "nat_router_device": _none(gs.nat_router_device),
        "nat_nmask": _none(gs.nat_nmask),
        "reservation_conflict_action": _none(gs.reservation_conflict_action),
        "debug_level": _none(gs.debug_level),
        "monitor_links": rd.monitor_links,
        "syncdaemon": rd.syncdaemon,
        "syncd_iface": _none(rd.syncd_iface),
        "syncd_id": rd.syncd_id,
        "tcp_timeout": gs.tcp_timeout,
        "tcpfin_timeout": gs.tcpfin_timeout,
        "udp_timeout": gs.udp_timeout,
        "hard_shutdown": gs.hard_shutdown,
        "active_cmd": _none(gs.active_cmd),
        "inactive_cmd": _none(gs.inactive_cmd),
        "ipvsadm": _none(gs.ipvsadm),
        "sync": gs.sync,
    }


def draft_config(serial_no: int | None = None) -> lvs.LvsConfig:
    """The whole draft as an LvsConfig, in a constant number of queries."""
    gs = GlobalSettings.load()
    rd = Redundancy.load()
    config = lvs.LvsConfig(
        serial_no=serial_no if serial_no is not None else gs.serial_no, **_global_fields(gs, rd)
    )
    config.failovers = [
        lvs.FailoverService(name=f.name, items=[(k, v) for k, v in f.items])
        for f in FailoverService.objects.all()
    ]
    # Real servers as plain rows in one query: building 10,000 model instances cost most of the
    # CONTROL/MONITORING page at 1,000 virtual servers (its pending-changes diff renders this).
    servers: dict[int, list[lvs.RealServer]] = defaultdict(list)
    for virtual_id, name, address, active, port, weight in RealServer.objects.order_by(
        "position", "id"
    ).values_list("virtual_server_id", "name", "address", "active", "port", "weight"):
        servers[virtual_id].append(
            lvs.RealServer(name=name, address=address, active=active, port=port, weight=weight)
        )
    virtuals = VirtualServer.objects.select_related("monitoring_script")
    for vs in virtuals:
        try:
            script: MonitoringScript | None = vs.monitoring_script
        except MonitoringScript.DoesNotExist:
            script = None
        config.virtuals.append(
            lvs.VirtualServer(
                name=vs.name,
                active=vs.active,
                address=vs.address if vs.has_address else None,
                device=_none(vs.device) if vs.has_address else None,
                sorry_server=_none(vs.sorry_server),
                vip_nmask=_none(vs.vip_nmask),
                fwmark=vs.fwmark,
                port=vs.port,
                persistent=vs.persistent,
                pmask=_none(vs.pmask),
                send=script.send if script else None,
                expect=script.expect if script else None,
                use_regex=script.use_regex if script else None,
                send_program=_none(script.send_program) if script else None,
                load_monitor=_none(vs.load_monitor),
                scheduler=_none(vs.scheduler),
                protocol=_none(vs.protocol),
                timeout=vs.timeout,
                reentry=vs.reentry,
                quiesce_server=vs.quiesce_server,
                client_monitor=_none(vs.client_monitor),
                servers=servers.get(vs.pk, []),
            )
        )
    return config


@dataclass
class DraftChange:
    """What replacing the draft changes, by name, for `importlvscf --dry-run` and restore."""

    globals_changed: list[str] = field(default_factory=list)
    virtuals_added: list[str] = field(default_factory=list)
    virtuals_removed: list[str] = field(default_factory=list)
    virtuals_changed: list[str] = field(default_factory=list)
    servers_added: list[str] = field(default_factory=list)
    servers_removed: list[str] = field(default_factory=list)
    servers_changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def lines(self) -> list[str]:
        labels = {
            "globals_changed": "global settings changed",
            "virtuals_added": "virtual servers added",
            "virtuals_removed": "virtual servers removed",
            "virtuals_changed": "virtual servers changed",
            "servers_added": "real servers added",
            "servers_removed": "real servers removed",
            "servers_changed": "real servers changed",
        }
        return [
            f"{labels[f.name]}: {', '.join(getattr(self, f.name))}"
            for f in fields(self)
            if getattr(self, f.name)
        ] or ["no changes"]


def compare(before: lvs.LvsConfig, after: lvs.LvsConfig) -> DraftChange:
    change = DraftChange()
    for f in fields(lvs.LvsConfig):
        if f.name in ("serial_no", "virtuals", "failovers"):
            continue
        if getattr(before, f.name) != getattr(after, f.name):
            change.globals_changed.append(f.name)
    if before.failovers != after.failovers:
        change.globals_changed.append("failover blocks")
    old = {v.name: v for v in before.virtuals}
    new = {v.name: v for v in after.virtuals}
    change.virtuals_added = [n for n in new if n not in old]
    change.virtuals_removed = [n for n in old if n not in new]
    for name in new.keys() & old.keys():
        a, b = old[name], new[name]
        own = [
            f.name
            for f in fields(lvs.VirtualServer)
            if f.name != "servers" and getattr(a, f.name) != getattr(b, f.name)
        ]
        if own:
            change.virtuals_changed.append(name)
        sa = {s.name: s for s in a.servers}
        sb = {s.name: s for s in b.servers}
        change.servers_added += [f"{name}/{s}" for s in sb if s not in sa]
        change.servers_removed += [f"{name}/{s}" for s in sa if s not in sb]
        change.servers_changed += [f"{name}/{s}" for s in sb.keys() & sa.keys() if sa[s] != sb[s]]
    for name in change.virtuals_added:
        change.servers_added += [f"{name}/{s.name}" for s in new[name].servers]
    change.virtuals_changed.sort()
    change.servers_changed.sort()
    return change


def _blank(value: object) -> object:
    return "" if value is None else value


def _check(obj, label: str, exclude: list[str] | tuple[str, ...] = ()) -> None:
    """full_clean(), with the error naming what it is about: "virtual web server db1: port: ..."."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise ValidationError(f"{label}: {details}") from None


@transaction.atomic
def replace_draft(config: lvs.LvsConfig, dry_run: bool = False) -> DraftChange:
    """Replace the whole draft with `config` in one transaction; on any invalid value nothing
    changes and the ValidationError names the virtual or real server and the field.

    GlobalSettings.serial_no stays the publish counter: a file's serial_no is not imported.
    """
    before = draft_config()
    change = compare(before, config)
    sid = transaction.savepoint()
    try:
        _write(config)
    except BaseException:
        transaction.savepoint_rollback(sid)
        raise
    if dry_run:
        transaction.savepoint_rollback(sid)
    else:
        transaction.savepoint_commit(sid)
    return change


def _write(config: lvs.LvsConfig) -> None:
    gs = GlobalSettings.load()
    rd = Redundancy.load()
    for name in (
        "primary",
        "primary_private",
        "primary_shared",
        "rsh_command",
        "network",
        "nat_router_ip",
        "nat_router_device",
        "nat_nmask",
        "reservation_conflict_action",
        "debug_level",
        "active_cmd",
        "inactive_cmd",
        "ipvsadm",
        "service",
    ):
        setattr(gs, name, _blank(getattr(config, name)))
    for name in ("tcp_timeout", "tcpfin_timeout", "udp_timeout", "hard_shutdown", "sync"):
        setattr(gs, name, getattr(config, name))
    for name in ("backup", "backup_private", "backup_shared", "syncd_iface"):
        setattr(rd, name, _blank(getattr(config, name)))
    rd.backup_active = bool(config.backup_active)
    for name in (
        "heartbeat",
        "heartbeat_port",
        "keepalive",
        "deadtime",
        "monitor_links",
        "syncdaemon",
        "syncd_id",
    ):
        setattr(rd, name, getattr(config, name))
    _check(gs, "global settings")
    _check(rd, "redundancy")
    gs.save()
    rd.save()

    # Replacing wholesale keeps this simple and fast (bulk inserts); ids of the draft rows change,
    # which nothing outside the draft refers to (health rows are keyed by address and port).
    VirtualServer.objects.all().delete()
    FailoverService.objects.all().delete()
    FailoverService.objects.bulk_create(
        FailoverService(name=f.name, position=i, items=[list(item) for item in f.items])
        for i, f in enumerate(config.failovers)
    )
    seen: set[str] = set()
    for v in config.virtuals:
        if v.name in seen:
            raise ValidationError(
                f"virtual {v.name}: two virtual blocks have this name; names must be unique"
            )
        seen.add(v.name)
    virtual_rows: list[VirtualServer] = []
    script_rows: list[MonitoringScript] = []
    server_rows: list[tuple[int, RealServer]] = []
    for i, v in enumerate(config.virtuals):
        row = VirtualServer(
            name=v.name,
            position=i,
            active=bool(v.active),
            address=v.address or "0.0.0.0",
            device=v.device or "",
            has_address=v.address is not None,
            vip_nmask=_blank(v.vip_nmask),
            port=v.port,
            protocol=v.protocol or "",
            fwmark=v.fwmark or None,
            persistent=v.persistent,
            pmask=_blank(v.pmask),
            scheduler=v.scheduler or "",
            timeout=v.timeout,
            reentry=v.reentry,
            quiesce_server=v.quiesce_server,
            load_monitor=_blank(v.load_monitor),
            sorry_server=_blank(v.sorry_server),
            client_monitor=_blank(v.client_monitor),
        )
        exclude = [n for n in ("device", "protocol", "scheduler") if not getattr(row, n)]
        _check(row, f"virtual {v.name}", exclude)
        virtual_rows.append(row)
        script = MonitoringScript(
            send=v.send, expect=v.expect, use_regex=v.use_regex, send_program=v.send_program or ""
        )
        # The stock files carry programs such as "/bin/testlink %h": validated like the form does.
        _check(script, f"virtual {v.name} monitoring script", ["virtual_server"])
        script_rows.append(script)
        for j, s in enumerate(v.servers):
            server = RealServer(
                name=s.name,
                position=j,
                address=s.address or "0.0.0.0",
                active=bool(s.active),
                port=s.port,
                weight=s.weight,
            )
            server_rows.append((i, server))
    VirtualServer.objects.bulk_create(virtual_rows)
    for row, script in zip(virtual_rows, script_rows, strict=True):
        script.virtual_server = row
    MonitoringScript.objects.bulk_create(script_rows)
    for index, server in server_rows:
        server.virtual_server = virtual_rows[index]
        _check(
            server, f"virtual {virtual_rows[index].name} server {server.name}", ["virtual_server"]
        )
    RealServer.objects.bulk_create([server for _i, server in server_rows])
