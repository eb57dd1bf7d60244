"""The draft (Django models) to and from an LvsConfig.

This sits in the wiring package because it reads all three apps (virtual servers, their real
servers and monitoring scripts); the apps themselves keep their one-way dependencies.
A blank model field means "absent from lvs.cf", so an imported file renders back as it was.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, fields

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models, router, transaction
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext

from monitoring.publish import audit
from realservers.models import RealServer
from virtualservers.lvsconf import model as lvs
from virtualservers.lvsconf.schema import (
    GLOBAL,
    IN_REDUNDANCY,
    IN_SCRIPT,
    IN_SERVER,
    IN_SETTINGS,
    IN_VIRTUAL,
    SECTIONS,
    SERVER,
    VIRTUAL,
    WEB_CHECK_KEYS,
    attrs_held_by,
)
from virtualservers.models import (
    WEB_KINDS,
    FailoverService,
    GlobalSettings,
    MonitoringScript,
    Redundancy,
    VirtualServer,
)

# Where each lvs.cf attribute lives in the draft is the schema's (Key.home); the keys it maps
# BY_HAND (serial_no, a virtual block's address line, fwmark, check) are written out below.
_SETTINGS_FIELDS = attrs_held_by(GLOBAL, IN_SETTINGS)
_REDUNDANCY_FIELDS = attrs_held_by(GLOBAL, IN_REDUNDANCY)
_VIRTUAL_FIELDS = attrs_held_by(VIRTUAL, IN_VIRTUAL)
_SCRIPT_FIELDS = attrs_held_by(VIRTUAL, IN_SCRIPT)
_SERVER_FIELDS = attrs_held_by(SERVER, IN_SERVER)
_CHECK_ATTR = "check"  # the monitoring script's kind, when lvs.cf can say it


def _reader(model: type[models.Model], name: str) -> Callable[[object], object]:
    """Model value -> lvs.cf value: a blank text column is an absent key."""
    f = model._meta.get_field(name)
    if isinstance(f, models.CharField) and not f.null:
        return lambda value: value if value else None
    return lambda value: value


def _writer(model: type[models.Model], name: str) -> Callable[[object], object]:
    """lvs.cf value -> model value: an absent key is blank text, NULL, or off for a flag column
    that cannot be NULL (the daemons' default for every such flag)."""
    f = model._meta.get_field(name)
    if f.null:
        return lambda value: value
    empty: object = "" if isinstance(f, models.CharField) else False
    return lambda value: empty if value is None else value


def _mapping(
    model: type[models.Model], names: Iterable[str], make: Callable
) -> tuple[tuple[str, Callable[[object], object]], ...]:
    return tuple((name, make(model, name)) for name in names)


def _read(obj: object, mapping) -> dict[str, object]:
    """`obj`'s values of the mapping's attributes, converted."""
    return {name: convert(getattr(obj, name)) for name, convert in mapping}


def _write_fields(obj: object, source: object, mapping) -> None:
    for name, convert in mapping:
        setattr(obj, name, convert(getattr(source, name)))


def _columns(model: type[models.Model]) -> tuple[str, ...]:
    """The columns an import writes itself: every concrete field but the id and the parent link.
    Each is text, a number or a flag, whose Python value the database takes as it is."""
    names = tuple(
        f.name for f in model._meta.concrete_fields if not f.primary_key and not f.is_relation
    )
    plain = (models.CharField, models.IntegerField, models.BooleanField)
    assert all(isinstance(model._meta.get_field(n), plain) for n in names), model
    return names


def _executemany(model: type[models.Model], names: tuple[str, ...], sql: str, rows: list) -> None:
    """Run `sql` once per row on `model`'s table: {table} is its quoted name, {columns} the
    quoted columns of `names`, {sets} `column = %s, ...`, {marks} one %s per name, {pk} the id."""
    if not rows:
        return
    opts = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [quote(opts.get_field(name).column) for name in names]
    statement = sql.format(
        table=quote(opts.db_table),
        columns=", ".join(columns),
        sets=", ".join(f"{column} = %s" for column in columns),
        marks=", ".join(["%s"] * len(names)),
        pk=quote(opts.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)


def _insert(model: type[models.Model], names: tuple[str, ...], rows: list[tuple]) -> None:
    """Plain rows into `model`'s table in one executemany. bulk_create spent most of an import
    preparing 10,000 real servers field by field; these values are already what the columns hold
    (checked by _RowCheck, addresses canonical from the parser)."""
    _executemany(model, names, "INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _update(model: type[models.Model], names: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows (values of `names`, then the id) written over existing rows, in one executemany."""
    _executemany(model, names, "UPDATE {table} SET {sets} WHERE {pk} = %s", rows)


_READ_SETTINGS = _mapping(GlobalSettings, _SETTINGS_FIELDS, _reader)
_READ_REDUNDANCY = _mapping(Redundancy, _REDUNDANCY_FIELDS, _reader)
_READ_VIRTUAL = _mapping(VirtualServer, _VIRTUAL_FIELDS, _reader)
_READ_SCRIPT = _mapping(MonitoringScript, _SCRIPT_FIELDS, _reader)
_READ_SERVER = _mapping(RealServer, _SERVER_FIELDS, _reader)
_WRITE_SETTINGS = _mapping(GlobalSettings, _SETTINGS_FIELDS, _writer)
_WRITE_REDUNDANCY = _mapping(Redundancy, _REDUNDANCY_FIELDS, _writer)
_WRITE_VIRTUAL = _mapping(VirtualServer, _VIRTUAL_FIELDS, _writer)
_WRITE_SCRIPT = _mapping(MonitoringScript, _SCRIPT_FIELDS, _writer)
_WRITE_SERVER = _mapping(RealServer, _SERVER_FIELDS, _writer)


def _globals_config(gs: GlobalSettings, rd: Redundancy, serial_no: int | None) -> lvs.LvsConfig:
    return lvs.LvsConfig(
        serial_no=serial_no if serial_no is not None else gs.serial_no,
        **_read(gs, _READ_SETTINGS),
        **_read(rd, _READ_REDUNDANCY),
    )


def fresh_config() -> lvs.LvsConfig:
    """What the draft of a new installation is, before anyone edited anything."""
    return _globals_config(GlobalSettings(), Redundancy(), None)


def draft_config(serial_no: int | None = None) -> lvs.LvsConfig:
    """The whole draft as an LvsConfig, in a constant number of queries."""
    config = _globals_config(GlobalSettings.load(), Redundancy.load(), serial_no)
    config.failovers = [
        lvs.FailoverService(name=f.name, items=[(k, v) for k, v in f.items])
        for f in FailoverService.objects.all()
    ]
    # Real servers as plain rows in one query: building 10,000 model instances cost most of the
    # CONTROL/MONITORING page at 1,000 virtual servers (its pending-changes diff renders this).
    servers: dict[int, list[lvs.RealServer]] = defaultdict(list)
    names = [name for name, _convert in _READ_SERVER]
    converts = [convert for _name, convert in _READ_SERVER]
    for virtual_id, name, *values in RealServer.objects.order_by("position", "id").values_list(
        "virtual_server_id", "name", *names
    ):
        servers[virtual_id].append(
            lvs.RealServer(
                name=name,
                **{n: c(v) for n, c, v in zip(names, converts, values, strict=True)},
            )
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
                address=vs.address if vs.has_address else None,
                device=(vs.device or None) if vs.has_address else None,
                fwmark=vs.fwmark,
                **_read(vs, _READ_VIRTUAL),
                **(_script_keys(script) if script else {}),
                servers=servers.get(vs.pk, []),
            )
        )
    return config


def _script_keys(script: MonitoringScript) -> dict[str, object]:
    """A script's lvs.cf keys. The HTTP/TLS keys go out only with a check that uses them: a file
    without lvsadmin's check keys stays loadable by a stock pulse."""
    values = _read(script, _READ_SCRIPT)
    web = script.kind in WEB_KINDS
    if not web:
        for name in WEB_CHECK_KEYS:
            values[name] = None
    values[_CHECK_ATTR] = script.kind if web else None
    return values


# Names listed per kind of change before "and N more": a screenful in all.
NAMES_SHOWN = 10


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

    def lines(self, translated: bool = False, limit: int | None = NAMES_SHOWN) -> list[str]:
        """One line per kind of change: how many, then the first `limit` names (all of them
        when None) and how many more ("real servers changed (10002): www/rs1, ..., and 9992
        more"; the whole list was 10,002 names on one line). English (the audit trail's, the
        command's) unless `translated` (the page's message)."""
        labels = {
            "globals_changed": gettext_noop("global settings changed"),
            "virtuals_added": gettext_noop("virtual servers added"),
            "virtuals_removed": gettext_noop("virtual servers removed"),
            "virtuals_changed": gettext_noop("virtual servers changed"),
            "servers_added": gettext_noop("real servers added"),
            "servers_removed": gettext_noop("real servers removed"),
            "servers_changed": gettext_noop("real servers changed"),
        }
        # English: no catalogue, whatever language the request that runs this speaks.
        with nullcontext() if translated else translation.override(None):
            lines = []
            for f in fields(self):
                names = getattr(self, f.name)
                if not names:
                    continue
                shown = ", ".join(names[:limit])
                more = len(names) - len(names[:limit])
                if more:
                    shown += ngettext(", and %(count)s more", ", and %(count)s more", more) % {
                        "count": more
                    }
                lines.append(f"{gettext(labels[f.name])} ({len(names)}): {shown}")
            return lines or [gettext("no changes")]


def _held(writes, reads) -> dict[str, Callable[[object], object]]:
    """Per attribute: an lvs.cf value -> what the draft holds for it once written and read back
    (an absent flag is off, an absent text is blank)."""
    read = dict(reads)
    return {name: (lambda v, w=write, r=read[name]: r(w(v))) for name, write in writes}


# How the draft holds each attribute of a config, a virtual server (its monitoring script's
# keys among them) and a real server.
_HELD: dict[type, dict[str, Callable[[object], object]]] = {
    lvs.LvsConfig: {
        **_held(_WRITE_SETTINGS, _READ_SETTINGS),
        **_held(_WRITE_REDUNDANCY, _READ_REDUNDANCY),
    },
    lvs.VirtualServer: {
        **_held(_WRITE_VIRTUAL, _READ_VIRTUAL),
        **_held(_WRITE_SCRIPT, _READ_SCRIPT),
    },
    lvs.RealServer: _held(_WRITE_SERVER, _READ_SERVER),
}


def _differ(a: object, b: object, name: str) -> bool:
    """Whether attribute `name` of `a` and `b` (of one dataclass) differ as the draft holds them:
    a key absent from a file and the value the draft stores for it are the same (a file without
    `backup_active` reported "global settings changed: backup_active" on every import)."""
    x, y = getattr(a, name), getattr(b, name)
    if x == y:
        return False
    held = _HELD[type(a)].get(name)
    return held is None or held(x) != held(y)


def _dataclasses_differ(a: object, b: object, skip: tuple[str, ...] = ()) -> list[str]:
    if a == b:  # the common case, at dataclass speed
        return []
    # compare=False fields (the lines a file's keys were read from) say nothing about the values.
    return [f.name for f in fields(a) if f.compare and f.name not in skip and _differ(a, b, f.name)]


def compare(before: lvs.LvsConfig, after: lvs.LvsConfig) -> DraftChange:
    change = DraftChange()
    change.globals_changed = _dataclasses_differ(
        before, after, ("serial_no", "virtuals", "failovers")
    )
    if before.failovers != after.failovers:
        change.globals_changed.append("failover blocks")
    old = {v.name: v for v in before.virtuals}
    new = {v.name: v for v in after.virtuals}
    change.virtuals_added = [n for n in new if n not in old]
    change.virtuals_removed = [n for n in old if n not in new]
    for name in new.keys() & old.keys():
        a, b = old[name], new[name]
        if _dataclasses_differ(a, b, ("servers",)):
            change.virtuals_changed.append(name)
        sa = {s.name: s for s in a.servers}
        sb = {s.name: s for s in b.servers}
        change.servers_added += [f"{name}/{s}" for s in sb if s not in sa]
        change.servers_removed += [f"{name}/{s}" for s in sa if s not in sb]
        change.servers_changed += [
            f"{name}/{s}" for s in sb.keys() & sa.keys() if _dataclasses_differ(sa[s], sb[s])
        ]
    for name in change.virtuals_added:
        change.servers_added += [f"{name}/{s.name}" for s in new[name].servers]
    change.virtuals_changed.sort()
    change.servers_changed.sort()
    return change


class _RowCheck:
    """A model's own field checks for the rows an import builds, without full_clean().

    The parser has already checked every lvs.cf value against the schema (and kept, with a
    warning, what pulse runs but the GUI's forms refuse), so the schema's ranges are not checked
    again here; what only the model knows is: names, column lengths, choices, address and device
    syntax, the programs a monitoring script may run. No query runs per row.
    """

    def __init__(self, model: type[models.Model], names: Iterable[str]) -> None:
        self.fields: list[
            tuple[models.Field, list[Callable[[object], None]], bool, set[object]]
        ] = []
        schema_attrs = {
            name for keys in SECTIONS.values() for k in keys for name in (k.attr, k.second) if name
        }
        ranged = {k.attr for keys in SECTIONS.values() for k in keys if k.limits is not None}
        for name in names:
            f = model._meta.get_field(name)
            validators = [
                v
                for v in f.validators
                if not (name in ranged and isinstance(v, MinValueValidator | MaxValueValidator))
            ]
            if f.choices:
                validators.append(self._choices(f))
            # Values that passed, per field (one checker per import): files repeat the same
            # addresses and devices many times.
            valid: set[object] = set()
            # An lvs.cf key may be absent (blank) even where the form requires a value.
            self.fields.append((f, validators, f.blank or name in schema_attrs, valid))

    @staticmethod
    def _choices(f: models.Field) -> Callable[[object], None]:
        allowed = {value for value, _label in f.flatchoices}

        def check(value: object) -> None:
            if value not in allowed:
                raise ValidationError(f.error_messages["invalid_choice"], params={"value": value})

        return check

    def __call__(
        self,
        values: dict[str, object],
        label: str,
        clean: Callable[[], None] | None = None,
        lines: Mapping[str, int] | None = None,
    ) -> None:
        """Check a row's `values` (a plain dict, or a model instance's vars()). `lines`: where
        the file said each value (the parsed object's `lines`), so that a message names the
        line as the parser's do."""
        errors: dict[str, list[str]] = {}
        for f, validators, may_be_blank, valid in self.fields:
            value = values.get(f.attname)
            if value is None or value == "":
                if may_be_blank or (value is None and f.null):
                    continue
                errors.setdefault(f.name, []).append(str(f.error_messages["blank"]))
                continue
            if value in valid:
                continue
            failed = False
            for validator in validators:
                try:
                    validator(value)
                except ValidationError as exc:
                    errors.setdefault(f.name, []).extend(exc.messages)
                    failed = True
            if not failed:
                valid.add(value)
        if not errors and clean is not None:
            try:
                clean()
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    errors.update(exc.message_dict)
                else:
                    errors.setdefault(NON_FIELD_ERRORS, []).extend(exc.messages)
        if errors:
            raise ValidationError(
                [
                    _at_line(lines or {}, k, f"{label}: {k}: {' '.join(v)}")
                    for k, v in errors.items()
                ]
            )


def _at_line(lines: Mapping[str, int], name: str, message: str) -> str:
    """`message` about field `name`, led by the line the file said it on (a field the file did
    not set, or an error about the whole row: the block's opening line), as LvsConfError's
    messages are; without a line (a row not read from a file), as it is."""
    line = lines.get(name) or lines.get("name")
    return f"line {line}: {message}" if line else message


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
        with audit.muted():  # the caller records one summary of `change`
            _write(config)
    except BaseException:
        transaction.savepoint_rollback(sid)
        raise
    if dry_run:
        transaction.savepoint_rollback(sid)
    else:
        transaction.savepoint_commit(sid)
    return change


def _delete_all(model: type[models.Model], rows: models.QuerySet | None = None) -> None:
    """Every row of `model` (or the `rows` of it) gone, one statement per table: Django's delete()
    would first load each real server (10,000 instances at 1,000 virtual servers) to honour the
    health rows' SET_NULL. What points at them goes (CASCADE) or lets go (SET_NULL) wholesale."""
    manager = model._base_manager
    if rows is None:
        rows = manager.all()
        pointing_at = lambda rel: {f"{rel.field.name}__isnull": False}  # noqa: E731
    else:
        pointing_at = lambda rel: {f"{rel.field.name}__in": rows.values("pk")}  # noqa: E731
    for rel in model._meta.related_objects:
        pointing = rel.related_model._base_manager.filter(**pointing_at(rel))
        if rel.on_delete is models.SET_NULL:
            pointing.update(**{rel.field.name: None})
        elif rel.on_delete is models.CASCADE and not rel.field.null:
            _delete_all(rel.related_model, pointing)  # these children's parents all go
        else:
            rows.delete()  # anything else: let Django decide
            return
    rows._raw_delete(manager.db)


# Ids per DELETE: far below any database's limit on query parameters.
_DELETE_CHUNK = 500


def _delete_ids(model: type[models.Model], ids: list[int]) -> None:
    for start in range(0, len(ids), _DELETE_CHUNK):
        _delete_all(model, model._base_manager.filter(pk__in=ids[start : start + _DELETE_CHUNK]))


_VIRTUAL_COLUMNS = _columns(VirtualServer)
_SCRIPT_COLUMNS = _columns(MonitoringScript)
_SERVER_COLUMNS = ("name", "position", *_SERVER_FIELDS)


def _write(config: lvs.LvsConfig) -> None:
    check_virtual = _RowCheck(VirtualServer, _VIRTUAL_COLUMNS)
    check_script = _RowCheck(MonitoringScript, _SCRIPT_FIELDS)
    check_server = _RowCheck(RealServer, _SERVER_COLUMNS)
    gs = GlobalSettings.load()
    rd = Redundancy.load()
    _write_fields(gs, config, _WRITE_SETTINGS)
    _write_fields(rd, config, _WRITE_REDUNDANCY)
    _RowCheck(GlobalSettings, _SETTINGS_FIELDS)(vars(gs), "global settings", gs.clean, config.lines)
    _RowCheck(Redundancy, _REDUNDANCY_FIELDS)(vars(rd), "redundancy", rd.clean, config.lines)
    gs.save()
    rd.save()

    seen: set[str] = set()
    for v in config.virtuals:
        if v.name in seen:
            raise ValidationError(
                _at_line(
                    v.lines,
                    "name",
                    f"virtual {v.name}: two virtual blocks have this name; names must be unique",
                )
            )
        seen.add(v.name)
    virtual_rows: list[tuple] = []
    script_rows: list[tuple] = []
    server_rows: list[tuple] = []
    server_of: list[int] = []
    script_defaults = {
        f.name: f.get_default() for f in MonitoringScript._meta.concrete_fields if not f.is_relation
    }
    # Plain dicts, not model instances: at 10,000 virtual servers building instances was a
    # large part of an import. VirtualServer.clean() is not run: its duplicate checks look at the
    # rows in the database, which an import replaces wholesale (and pulse runs two virtuals on one
    # firewall mark).
    for i, v in enumerate(config.virtuals):
        row = _read(v, _WRITE_VIRTUAL)
        row.update(
            name=v.name,
            position=i,
            address=v.address or lvs.DEFAULT_ADDRESS,
            device=v.device or "",
            has_address=v.address is not None,
            fwmark=v.fwmark or None,
        )
        check_virtual(row, f"virtual {v.name}", lines=v.lines)
        virtual_rows.append(tuple(row[name] for name in _VIRTUAL_COLUMNS))
        script = {**script_defaults, **_read(v, _WRITE_SCRIPT)}
        if v.check:
            script["kind"] = v.check
        # The stock files carry programs such as "/bin/testlink %h": validated like the form does.
        # The model's clean() checks the expect string as a regular expression, only when
        # use_regex is on.
        regex = MonitoringScript(**script).clean if script["use_regex"] else None
        check_script(script, f"virtual {v.name} monitoring script", regex, v.lines)
        script_rows.append(tuple(script[name] for name in _SCRIPT_COLUMNS))
        vip_is_v6 = ":" in row["address"]
        for j, s in enumerate(v.servers):
            server = _read(s, _WRITE_SERVER)
            server.update(name=s.name, position=j)
            if not server["address"]:
                server["address"] = lvs.DEFAULT_ADDRESS
            # Canonical addresses: IPv6 ones, and only they, have a colon. The model's family check
            # runs only where it can fail; its sibling check would run a query per server against
            # rows this import is replacing.
            family = None
            if (":" in server["address"]) != vip_is_v6:
                parent = VirtualServer(address=row["address"])
                family = RealServer(virtual_server=parent, **server)._check_family
            check_server(server, f"virtual {v.name} server {s.name}", family, s.lines)
            server_rows.append(tuple(server[name] for name in _SERVER_COLUMNS))
            server_of.append(i)

    # Rows whose names survive are updated in place, so that their ids (the edit pages' URLs,
    # open tabs, bookmarks, the health rows' links) stay; new names are inserted and the rest
    # deleted, each in bulk. Real servers are matched by name within their virtual server, in
    # file order when two share a name.
    existing = dict(VirtualServer.objects.values_list("name", "id"))
    gone = [pk for name, pk in existing.items() if name not in seen]
    if gone and len(gone) == len(existing):
        _delete_all(VirtualServer)
    else:
        _delete_ids(VirtualServer, gone)
    # Every script is written again from the file (as the fields lvs.cf cannot express were
    # always reset by an import); nothing refers to a script's id.
    _delete_all(MonitoringScript)
    _delete_all(FailoverService)
    FailoverService.objects.bulk_create(
        FailoverService(name=f.name, position=i, items=[list(item) for item in f.items])
        for i, f in enumerate(config.failovers)
    )
    updates: list[tuple] = []
    inserts: list[tuple] = []
    for v, values in zip(config.virtuals, virtual_rows, strict=True):
        if v.name in existing:
            updates.append((*values, existing[v.name]))
        else:
            inserts.append(values)
    _update(VirtualServer, _VIRTUAL_COLUMNS, updates)
    _insert(VirtualServer, _VIRTUAL_COLUMNS, inserts)
    if inserts:
        existing = dict(VirtualServer.objects.values_list("name", "id"))
    ids = [existing[v.name] for v in config.virtuals]
    _insert(
        MonitoringScript,
        ("virtual_server", *_SCRIPT_COLUMNS),
        [(ids[i], *values) for i, values in enumerate(script_rows)],
    )

    old_servers: dict[tuple[int, str], deque[int]] = defaultdict(deque)
    for virtual_id, name, pk in RealServer.objects.order_by("position", "id").values_list(
        "virtual_server_id", "name", "id"
    ):
        old_servers[virtual_id, name].append(pk)
    updates, inserts = [], []
    for values, index in zip(server_rows, server_of, strict=True):
        # values[0] is the name (_SERVER_COLUMNS starts with it).
        same = old_servers.get((ids[index], values[0]))
        if same:
            updates.append((*values, same.popleft()))
        else:
            inserts.append((ids[index], *values))
    _delete_ids(RealServer, [pk for left in old_servers.values() for pk in left])
    _update(RealServer, _SERVER_COLUMNS, updates)
    _insert(RealServer, ("virtual_server", *_SERVER_COLUMNS), inserts)
