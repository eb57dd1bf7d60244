"""The runtime side: published revisions, and what the worker reports back for the
CONTROL/MONITORING tab (health per real server, counters, the worker's heartbeat)."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import OperationalError, connection, connections, models
from django.utils.translation import gettext_lazy as _

from realservers.models import RealServer
from virtualservers.models import SingletonModel

T = TypeVar("T")

# MySQL's and MariaDB's ER_LOCK_DEADLOCK: the server rolled the whole transaction back.
LOCK_DEADLOCK = 1213


def retry_on_deadlock(write: Callable[[], T], attempts: int = 5) -> T:
    """Run `write`, one whole transaction, again when InnoDB picked it as a deadlock's victim.
    InnoDB rolls the victim back and asks for a restart; two directors' workers write the same
    status rows on one database, and a lock cycle between them is not always foreseeable (CI
    once saw the status row's first insert chosen as the victim). Inside an outer transaction
    the whole outer one was rolled back, so the error is passed up instead."""
    for attempt in range(1, attempts):
        try:
            return write()
        except OperationalError as exc:
            if connection.in_atomic_block or not exc.args or exc.args[0] != LOCK_DEADLOCK:
                raise
            # A short random pause, so that the two writers do not meet again in step.
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    return write()


def create_the_single_row(model: type[models.Model]) -> None:
    """Create a one-row table's row (pk=1) in a transaction of its own, before any transaction
    that locks it to write it. Created inside such a transaction (update_or_create), two writers
    starting at once on MariaDB deadlock: the loser of the insert keeps its duplicate-key check's
    shared lock until its transaction ends, then asks for the row's exclusive lock while the
    winner's next write already waits for it. Here the loser's transaction, and that lock, end
    with its failed insert."""
    retry_on_deadlock(lambda: model._default_manager.get_or_create(pk=1))


def upsert(
    model: type[models.Model], keys: tuple[str, ...], fields: tuple[str, ...], rows: list[tuple]
) -> None:
    """Insert or update `rows` (values of `keys`, then of `fields`, as the database takes them)
    of `model`'s table, keyed by its unique `keys`, with one prepared statement a thousand rows:
    the ORM's bulk_create spent most of its time building model instances and their SQL."""
    quote = connection.ops.quote_name
    columns = (*keys, *fields)
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    table = quote(model._meta.db_table)
    if connection.vendor == "mysql":
        update = ", ".join(f"{quote(c)} = VALUES({quote(c)})" for c in fields)
        conflict = f"ON DUPLICATE KEY UPDATE {update}"
    else:  # SQLite and PostgreSQL
        update = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in fields)
        conflict = f"ON CONFLICT ({', '.join(quote(c) for c in keys)}) DO UPDATE SET {update}"
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.executemany(sql, rows[start : start + 1000])


class PreparedRead:
    """A read run over and over (the worker's control poll, twice a second), compiled to SQL
    once per database connection: building and compiling the ORM's query was most of each
    read's CPU (0.1-0.3 ms, against 0.01 ms for running it on SQLite), and most of an unchanged
    poll's (bench/bench_worker.py). `rows()` gives what `queryset` would (a values_list()), run
    anew each time and converted as the ORM converts it."""

    def __init__(self, queryset: models.QuerySet) -> None:
        self.queryset = queryset
        self.compiled: tuple | None = None  # (the connection, its compiler, the SQL, params)

    def rows(self) -> list[tuple]:
        db = connections[self.queryset.db]  # this thread's connection
        compiled = self.compiled
        if compiled is None or compiled[0] is not db:
            compiler = self.queryset.query.get_compiler(connection=db)
            compiled = self.compiled = (db, compiler, *compiler.as_sql())
        _, compiler, sql, params = compiled
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return list(compiler.results_iter([fetched], tuple_expected=True))


def update_by_pk(model: type[models.Model], fields: tuple[str, ...], rows: list[tuple]) -> int:
    """Set `fields` of `model`'s rows: `rows` holds their values (as the database takes them),
    then each row's primary key. How many rows matched (fewer than `rows`: some went). For
    columns that move while the rest of the row stays (the health rows' last check and
    latency), which upsert() rewrote with every other column and the indexes on them: on SQLite
    a prepared UPDATE by rowid, 15 ms for 10,000 rows against upsert()'s 44 ms. PyMySQL runs an
    UPDATE's executemany as one statement a row, so on MySQL/MariaDB it is one UPDATE joined
    with the rows sent as one JSON document (JSON_TABLE: MariaDB 10.6, MySQL 8.0.4); matched
    rows are counted since Django connects with CLIENT_FOUND_ROWS."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            kinds = [model._meta.get_field(name).db_type(connection) for name in fields]
            columns = [f"v{i} {kind} PATH '$[{i}]'" for i, kind in enumerate(kinds)]
            columns.append(f"k BIGINT PATH '$[{len(fields)}]'")
            sets = ", ".join(
                f"{table}.{quote(model._meta.get_field(name).column)} = j.v{i}"
                for i, name in enumerate(fields)
            )
            cursor.execute(
                f"UPDATE {table} JOIN JSON_TABLE(%s, '$[*]' COLUMNS ({', '.join(columns)})) AS j"
                f" ON {table}.{pk} = j.k SET {sets}",
                [json.dumps(rows)],
            )
            return cursor.rowcount
        sets = ", ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in fields)
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE {pk} = %s", rows)
        return cursor.rowcount


class Revision(models.Model):
    """A published lvs.cf: what Apply wrote, by whom and when."""

    serial_no = models.PositiveIntegerField(_("serial number"), unique=True)
    created_at = models.DateTimeField(_("published at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("published by"),
    )
    text = models.TextField(_("lvs.cf"))
    comment = models.CharField(_("comment"), max_length=255, blank=True)
    # Settings of the built-in checks (MySQL credentials...) that lvs.cf cannot express,
    # snapshotted at publish time so that the worker enforces exactly what was applied.
    checks = models.JSONField(_("built-in checks"), default=dict, blank=True)

    class Meta:
        # The model was born in the virtualservers app; moving it kept its table.
        db_table = "virtualservers_revision"
        ordering = ["-serial_no"]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        permissions = [("publish_revision", _("Can apply the draft and restore revisions"))]

    def __str__(self) -> str:
        return f"serial {self.serial_no}"


class HealthState(models.TextChoices):
    UNKNOWN = "unknown", _("unknown")
    UP = "up", _("up")
    DOWN = "down", _("down")


class RealServerHealth(models.Model):
    """Written by the worker, read by CONTROL/MONITORING. Keyed by what the worker sees in the
    published lvs.cf (virtual name, address, port), not by draft rows, which may differ."""

    virtual_name = models.CharField(max_length=64)
    address = models.CharField(max_length=45)
    port = models.PositiveIntegerField()
    real_server = models.ForeignKey(
        RealServer, null=True, blank=True, on_delete=models.SET_NULL, related_name="health"
    )
    state = models.CharField(max_length=8, choices=HealthState.choices, default=HealthState.UNKNOWN)
    since = models.DateTimeField(null=True, blank=True)
    last_check = models.DateTimeField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    weight = models.IntegerField(null=True, blank=True)
    active_conn = models.PositiveIntegerField(default=0)
    inact_conn = models.PositiveIntegerField(default=0)

    class Meta:
        unique_together = [("virtual_name", "address", "port")]
        # CONTROL/MONITORING counts the rows by state and the down ones by virtual server on
        # every load: read from this index alone (a scan of 100,000 wide rows was most of the
        # page's time at 10,000 x 10).
        indexes = [models.Index(fields=["state", "virtual_name"], name="health_state_virtual")]
        verbose_name = _("real server health")
        verbose_name_plural = _("real server health")

    def __str__(self) -> str:
        return f"{self.virtual_name} {self.address}:{self.port} {self.state}"


class RuntimeStateChoice(models.TextChoices):
    DRAIN = "drain", _("drain")
    MAINTENANCE = "maintenance", _("maintenance")


class RealServerRuntimeState(models.Model):
    """A drain or a maintenance an operator holds a real server in: not configuration (lvs.cf
    and the draft do not know it), so Apply leaves it alone. Keyed as the health rows are, by
    what the worker sees in the published lvs.cf (virtual name, address, checked port), so it
    survives Apply, and a worker restart reads it back. No row: the server is back to normal."""

    virtual_name = models.CharField(_("virtual server"), max_length=64)
    address = models.CharField(_("address"), max_length=45)
    port = models.PositiveIntegerField(_("port"))
    state = models.CharField(_("state"), max_length=16, choices=RuntimeStateChoice.choices)
    since = models.DateTimeField(_("since"))
    set_by = models.CharField(_("set by"), max_length=150, blank=True)

    class Meta:
        unique_together = [("virtual_name", "address", "port")]
        verbose_name = _("real server runtime state")
        verbose_name_plural = _("real server runtime states")
        permissions = [
            ("drain_server", _("Can drain real servers, put them in maintenance and return them"))
        ]

    def __str__(self) -> str:
        return f"{self.virtual_name} {self.address}:{self.port} {self.state}"


class ConnectionSample(models.Model):
    """One point of a real server's connection graph (kept for an hour)."""

    health = models.ForeignKey(RealServerHealth, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField(db_index=True)
    # The same moment in whole minutes since the epoch: the graph places an hour of samples of
    # hundreds of real servers by it, without building a datetime for each row.
    minute = models.BigIntegerField(default=0, db_index=True)
    active_conn = models.PositiveIntegerField()
    inact_conn = models.PositiveIntegerField()

    class Meta:
        ordering = ["at"]


def new_table_stamp() -> str:
    return uuid.uuid4().hex


class WorkerStatus(models.Model):
    """The worker's heartbeat (single row): the GUI says "running" while it is fresh."""

    heartbeat = models.DateTimeField(null=True, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    serial_no = models.IntegerField(
        null=True, blank=True, help_text="serial of the revision being enforced"
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="when the running worker process started"
    )
    previous_heartbeat = models.DateTimeField(
        null=True,
        blank=True,
        help_text="the last heartbeat of the worker before this one (it exited or was restarted)",
    )
    kernel_ok = models.BooleanField(default=False)
    kernel_message = models.CharField(max_length=255, blank=True)
    # The table itself is in WorkerTableService's rows (ipvsadm -Ln's text is made from them);
    # beside it, the line that says it is the table the worker would apply, and why.
    table_note = models.TextField(
        null=True,
        blank=True,
        help_text="the line above the table (none: nothing published, no table)",
    )
    # The table's services are rows of WorkerTableService, each written only when it changed: a
    # worker that finds another stamp than the one it wrote last knows another worker (the other
    # director's, on a shared database) wrote the table since, and writes its own whole.
    table_stamp = models.CharField(
        max_length=32, blank=True, help_text="new whenever the table is written"
    )

    class Meta:
        verbose_name = _("worker status")
        verbose_name_plural = _("worker status")


class WorkerTableService(models.Model):
    """One service of the worker's last table (what `ipvsadm -Ln` shows for it, with its virtual
    server's name and real servers), as CONTROL/MONITORING, the API and /metrics read it. The
    worker writes only the services that changed (monitoring.live.servicerows); a page reads
    the services it shows."""

    # Sorts as the kernel table's services do (servicerows.sort_text): pages are cut in its order.
    key = models.CharField(max_length=128, unique=True)
    virtual = models.CharField(max_length=64, blank=True, db_index=True)
    service = models.CharField(max_length=80, help_text="as ipvsadm -Ln names it")
    address = models.CharField(max_length=45, blank=True, help_text="the VIP (none: fwmark)")
    addresses = models.TextField(blank=True, help_text="its real servers' addresses, searched")
    connections = models.BigIntegerField(default=0, help_text="active and inactive, summed")
    row = models.JSONField(default=dict, help_text="the service and its real servers as shown")

    class Meta:
        ordering = ["key"]
        verbose_name = _("worker table service")
        verbose_name_plural = _("worker table services")

    def __str__(self) -> str:
        return self.service


class DraftGeneration(models.Model):
    """One row (pk=1): how many times the draft changed, counted by the database itself
    (triggers on every draft table, migration 0013), so that a write no signal sees (a bulk
    update, an import's executemany, the admin's actions) still counts. Beside it, what was
    computed for one generation: the pending changes CONTROL/MONITORING shows, and whether
    lvs.cf on disk is the published text, so that a page load neither renders the draft nor
    reads the file when nothing changed."""

    number = models.BigIntegerField(default=0)
    pending_key = models.CharField(max_length=255, blank=True)
    pending = models.JSONField(default=dict, blank=True)
    drift_key = models.CharField(max_length=255, blank=True)
    drifted = models.BooleanField(default=False)


class AuditEntry(models.Model):
    """One change: to the draft (GUI, admin, import), an Apply or restore, an activation, a
    role or password change. Who and from where are kept as text, not as foreign keys, so an
    entry outlives the user account and the revision it names (pruning revisions keeps it)."""

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    username = models.CharField(_("who"), max_length=150)
    address = models.CharField(_("from"), max_length=64)
    action = models.CharField(_("action"), max_length=32)
    target = models.CharField(_("what"), max_length=255)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    summary = models.TextField(_("summary"), blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"


class NotificationSettings(SingletonModel):
    """Who is told about real server and director state changes, and how (the notifications
    page; the worker re-reads it on its poll). A channel is on when it is filled in."""

    recipients = models.TextField(
        _("e-mail recipients"),
        blank=True,
        help_text=_("One address per line (or separated by commas). Empty: no e-mail."),
    )
    sender = models.EmailField(
        _("e-mail sender"), blank=True, help_text=_("Empty: DEFAULT_FROM_EMAIL of the settings.")
    )
    webhook_url = models.URLField(
        _("webhook URL"),
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("http:// or https://; receives a JSON POST per message. Empty: no webhook."),
    )
    webhook_timeout = models.FloatField(
        _("webhook timeout (seconds)"),
        default=5.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(60)],
    )
    webhook_retries = models.PositiveSmallIntegerField(
        _("webhook retries"),
        default=3,
        validators=[MaxValueValidator(10)],
        help_text=_("Retried after 1, 2, 4... seconds when it fails."),
    )
    program = models.CharField(
        _("notify program"),
        max_length=255,
        blank=True,
        help_text=_(
            "Run as PROGRAM [ARGS] TYPE NAME STATE for every change, without a shell, only from "
            "a check program directory. Empty: no program."
        ),
    )
    program_timeout = models.FloatField(
        _("program timeout (seconds)"),
        default=10.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(120)],
    )
    window = models.FloatField(
        _("grouping window (seconds)"),
        default=2.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(300)],
        help_text=_("Changes closer together than this are sent as one message."),
    )
    max_delay = models.FloatField(
        _("longest delay (seconds)"),
        default=30.0,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text=_("A message is sent at the latest this long after its first change."),
    )

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return "Notifications"

    def recipient_list(self) -> list[str]:
        return [a for a in self.recipients.replace(",", "\n").split() if a]


class PeerFollowStatus(models.Model):
    """How the standby follows the active director (single row, written by the standby's
    worker): the peer, the last contact or since when it fails and why, and whether the peer's
    configuration matches this director's."""

    peer = models.CharField(_("peer"), max_length=255, blank=True)
    role = models.CharField(_("role"), max_length=16, blank=True)
    state = models.CharField(_("state"), max_length=16, blank=True)
    peer_serial = models.IntegerField(_("peer's serial"), null=True, blank=True)
    local_serial = models.IntegerField(_("this director's serial"), null=True, blank=True)
    matches = models.BooleanField(_("configuration matches"), null=True, blank=True)
    last_contact = models.DateTimeField(_("last contact"), null=True, blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("peer follow status")
        verbose_name_plural = _("peer follow status")
