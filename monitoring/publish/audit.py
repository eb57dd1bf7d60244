"""The audit trail: who changed what, when and from where.

Every save and delete of a draft model (GUI, admin or shell alike) is recorded by signals with
the changed fields' old and new values; Apply by the new revision's row; restore and import by
one summary each (they write the draft in bulk statements that send no signals, and the rows'
own signals are muted meanwhile); group membership and account changes by the user model's
signals. The actor comes from the request being served (`AuditMiddleware`), else from the
command being run: the OS user, address "local".
"""

from __future__ import annotations

import functools
import getpass
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from monitoring.models import AuditEntry, NotificationSettings, Revision
from realservers.models import RealServer
from virtualservers.activation import bulk_changed
from virtualservers.models import (
    FailoverService,
    GlobalSettings,
    MonitoringScript,
    Redundancy,
    SingletonModel,
    VirtualServer,
)

DRAFT_MODELS: tuple[type[models.Model], ...] = (
    GlobalSettings,
    Redundancy,
    VirtualServer,
    RealServer,
    MonitoringScript,
    FailoverService,
)
SECRET = "(secret changed)"
# Never written to the trail: the value (a password) or noise (the last login time).
SECRET_FIELDS = {"mysql_password", "password"}
IGNORED_FIELDS = {"last_login"}


@dataclass(frozen=True)
class Actor:
    username: str
    address: str


_actor: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)
_muted: ContextVar[bool] = ContextVar("audit_muted", default=False)


def local_actor() -> Actor:
    """A management command or shell: no Django user, the OS account that ran it."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(f"{name} (shell)", "local")


def current_actor() -> Actor:
    return _actor.get() or local_actor()


def request_actor(request: HttpRequest) -> Actor:
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else "(anonymous)"
    # client_ip is what the allowlist middleware resolved: X-Forwarded-For believed only from a
    # trusted proxy, so a client cannot write someone else's address into the trail.
    address = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR", "")
    return Actor(name, address)


class AuditMiddleware:
    """Makes the logged-in user and client address the actor of what the request changes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Resolved lazily: request.user is only known once the view runs (and login changes it).
        token = _actor.set(_LazyActor(request))  # type: ignore[arg-type]
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


class _LazyActor:
    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @property
    def username(self) -> str:
        return request_actor(self.request).username

    @property
    def address(self) -> str:
        return request_actor(self.request).address


def record(
    action: str,
    target: str,
    changes: dict | None = None,
    summary: str = "",
    actor: Actor | None = None,
) -> AuditEntry:
    actor = actor or current_actor()
    return AuditEntry.objects.create(
        username=actor.username[:150],
        address=actor.address[:64],
        action=action,
        target=target[:255],
        changes=changes or {},
        summary=summary,
    )


@contextmanager
def muted() -> Iterator[None]:
    """No per-row entries (a bulk replacement of the draft records one summary instead)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


# --- Field diffs --------------------------------------------------------------------------------


def _values(obj: models.Model) -> dict[str, Any]:
    values = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.name in IGNORED_FIELDS:
            continue
        if field.is_relation:
            # The row it points at by name (a virtual server's), not by an id nobody reads.
            related = getattr(obj, field.name, None)
            values[field.name] = None if related is None else str(related)
            continue
        values[field.name] = field.value_from_object(obj)
    return values


def _shown(name: str, value: Any) -> Any:
    if name in SECRET_FIELDS:
        return SECRET if value else ""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed; secrets only say they changed."""
    changed = {}
    for name in [*after, *(n for n in before if n not in after)]:
        old, new = before.get(name), after.get(name)
        if old != new:
            changed[name] = [_shown(name, old), _shown(name, new)]
    return changed


def _label(obj: models.Model) -> str:
    # Stored in English whatever the language of the page the change came from: the trail reads
    # the same to everyone (AUDIT shows its fixed words in the reader's language: shown()).
    with translation.override(None):
        label = f"{obj._meta.verbose_name} {obj}"
    if isinstance(obj, RealServer):
        label += f" of {obj.virtual_server.name}" if obj.virtual_server_id else ""
    return label


def _remember(sender, instance: models.Model, **kwargs) -> None:
    if _muted.get():
        return
    # select_related: a foreign key is recorded by the name of the row it points at (_values).
    old = (
        sender._default_manager.select_related().filter(pk=instance.pk).first()
        if instance.pk
        else None
    )
    instance._audit_before = _values(old) if old is not None else None


def _saved(sender, instance: models.Model, created: bool, **kwargs) -> None:
    if _muted.get():
        return
    before = getattr(instance, "_audit_before", None)
    if before is None and isinstance(instance, SingletonModel):
        return  # made with its defaults on first use (load()): nobody changed anything yet
    changes = diff(before or {}, _values(instance))
    if created or before is None:
        action = "add"
    elif set(changes) == {"active"}:
        action = "activate" if instance.active else "deactivate"
    else:
        action = "change"
    if not changes and action == "change":
        return  # saved as it was: nothing to tell
    record(action, _label(instance), changes)


def _deleted(sender, instance: models.Model, **kwargs) -> None:
    if not _muted.get():
        record("delete", _label(instance), diff(_values(instance), {}))


# The key of a bulk entry's changes that lists the rows it changed (no model field has this name).
BULK_NAMES = "changed rows"


def _bulk_changed(sender, field: str, value: object, names: list[str], **kwargs) -> None:
    """One entry for a bulk action of the admin (virtualservers.activation.set_field_in_bulk):
    the field's new value and every row it changed, by name."""
    if _muted.get():
        return
    old = (not value) if field == "active" else None  # the rows that changed held the other one
    if field == "active":
        action = "activate" if value else "deactivate"
    else:
        action = "change"
    with translation.override(None):
        kind = sender._meta.verbose_name_plural
    record(
        action,
        f"{len(names)} {kind}",
        {field: [_shown(field, old), _shown(field, value)], BULK_NAMES: names},
    )


def _published(sender, instance: Revision, created: bool, **kwargs) -> None:
    if created:
        record("apply", f"revision serial {instance.serial_no}", summary=instance.comment)


def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    before = getattr(instance, "_audit_before", None)
    changes = diff(before or {}, _values(instance))
    if created or before is None:
        record("add user", f"user {instance.get_username()}", changes)
    elif "password" in changes:
        record("password", f"user {instance.get_username()}")
        del changes["password"]
    if changes and not created and before is not None:
        record("change user", f"user {instance.get_username()}", changes)


def _groups_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    User = get_user_model()
    if reverse:  # group.user_set changed: instance is the group
        users = [u.get_username() for u in User.objects.filter(pk__in=pk_set or ())]
        groups = [instance.name]
    else:
        users = [instance.get_username()]
        groups = list(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    verb = {"post_add": "added to", "post_remove": "removed from", "post_clear": "removed from"}
    for user in users:
        record(
            "role",
            f"user {user}",
            {"groups": [verb[action], groups or ["all groups"]]},
        )


def connect() -> None:
    # The notification settings are not draft (no Apply) but are audited the same way.
    for model in (*DRAFT_MODELS, NotificationSettings):
        uid = f"audit-{model._meta.label}"
        pre_save.connect(_remember, sender=model, dispatch_uid=uid)
        post_save.connect(_saved, sender=model, dispatch_uid=uid)
        post_delete.connect(_deleted, sender=model, dispatch_uid=uid)
    bulk_changed.connect(_bulk_changed, dispatch_uid="audit-bulk")
    post_save.connect(_published, sender=Revision, dispatch_uid="audit-revision")
    User = get_user_model()
    pre_save.connect(_remember, sender=User, dispatch_uid="audit-user")
    post_save.connect(_user_saved, sender=User, dispatch_uid="audit-user")
    m2m_changed.connect(_groups_changed, sender=User.groups.through, dispatch_uid="audit-groups")


# --- What the AUDIT page shows ------------------------------------------------------------------
# The trail stores English; the page shows its fixed words (the actions, and what kind of object
# a target is) in the reader's language. Names, addresses and values stay as recorded.
ACTIONS = {
    word: word
    for word in (
        gettext_noop("add"),
        gettext_noop("change"),
        gettext_noop("activate"),
        gettext_noop("deactivate"),
        gettext_noop("delete"),
        gettext_noop("apply"),
        gettext_noop("restore"),
        gettext_noop("import"),
        gettext_noop("add user"),
        gettext_noop("change user"),
        gettext_noop("password"),
        gettext_noop("role"),
        gettext_noop("drain"),
        gettext_noop("maintenance"),
        gettext_noop("return"),
        gettext_noop("handover"),
        gettext_noop("test message"),
        gettext_noop("add token"),
        gettext_noop("revoke token"),
    )
}
_TARGETS = [
    (
        re.compile(r"^real server (?P<name>.+) of (?P<virtual>[^ ]+)$"),
        gettext_noop("real server %(name)s of %(virtual)s"),
    ),
    # A bulk action of the admin (_bulk_changed).
    (re.compile(r"^(?P<count>\d+) real servers$"), gettext_noop("%(count)s real servers")),
    (re.compile(r"^(?P<count>\d+) virtual servers$"), gettext_noop("%(count)s virtual servers")),
    (re.compile(r"^revision serial (?P<serial>\d+)$"), gettext_noop("revision serial %(serial)s")),
    (re.compile(r"^user (?P<name>.+)$"), gettext_noop("user %(name)s")),
    (re.compile(r"^director role to (?P<peer>.*)$"), gettext_noop("director role to %(peer)s")),
    (
        re.compile(
            r"^(?P<kind>global settings|redundancy|virtual server|monitoring script|"
            r"failover service \(legacy\)|notification settings)(?P<rest>( .*)?)$"
        ),
        None,
    ),
]


def shown_action(action: str) -> str:
    return gettext(action) if action in ACTIONS else action


def shown_target(target: str) -> str:
    for pattern, words in _TARGETS:
        match = pattern.match(target)
        if match is None:
            continue
        if words is None:
            return gettext(match["kind"]) + match["rest"]
        return gettext(words) % match.groupdict()
    return target


# Fields nobody sets by hand (the order in the file, what an import noticed): an "add" or a
# "delete" does not list them, nor the fields it left empty.
INTERNAL_FIELDS = {"position", "has_address", "serial_no"}
NAMES_SHOWN = 20  # a bulk entry's rows shown before "and N more" (the rest folded)


@dataclass(frozen=True)
class ShownChange:
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ShownEntry:
    """An entry's changes as AUDIT shows them: fields in the reader's words, then the rows a
    bulk action changed (the first NAMES_SHOWN, and the rest to unfold)."""

    changes: list[ShownChange]
    names: list[str]
    more_names: list[str]


@functools.cache
def _kinds() -> tuple[tuple[tuple[str, str], type[models.Model]], ...]:
    """Each audited model's English names (singular, plural), as targets are recorded."""
    with translation.override(None):
        return tuple(
            ((str(m._meta.verbose_name), str(m._meta.verbose_name_plural)), m)
            for m in (*DRAFT_MODELS, NotificationSettings)
        )


def _model_of(target: str) -> type[models.Model] | None:
    """Which kind of row a target names ("real server db1 of www", "10002 real servers")."""
    words = target.split(" ", 1)[-1] if target[:1].isdigit() else target
    return next((model for kinds, model in _kinds() if words.startswith(kinds)), None)


def _field_label(model: type[models.Model] | None, name: str) -> str:
    if model is None:
        return name
    try:
        field = model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist, or a name an older version recorded
        return name
    return str(getattr(field, "verbose_name", name))


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _internal(model: type[models.Model] | None, name: str) -> bool:
    if name in INTERNAL_FIELDS:
        return True
    try:
        return model is not None and not model._meta.get_field(name).editable
    except Exception:
        return False


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return value


# --- Entries recorded before a foreign key was recorded by name ---------------------------------
# Until then the trail held the id of the row a foreign key pointed at (`virtual_server: 1`).
# The stored entries are evidence and stay as they are; AUDIT shows such an id as the row's name
# while the row exists. Ids are never handed out again (SQLite's AUTOINCREMENT, InnoDB's
# persistent counter; an import inserts new rows), so an id that exists is the row it was then.
OldIds = dict[tuple[type[models.Model], int], str]


def _pointed_at(model: type[models.Model] | None, name: str) -> type[models.Model] | None:
    """The model that field `name` of `model` is a foreign key to (None if it is not one)."""
    try:
        field = model._meta.get_field(name) if model is not None else None
    except Exception:  # FieldDoesNotExist: a name an older version recorded
        return None
    return field.related_model if field is not None and field.many_to_one else None


def _is_old_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def old_id_names(entries: Iterable[tuple[str, dict]]) -> OldIds:
    """The names of the rows that old entries (target, changes) name by id and that still
    exist: one query per kind of row, whatever the number of entries."""
    wanted: dict[type[models.Model], set[int]] = {}
    for target, changes in entries:
        model = _model_of(target)
        for name, values in changes.items():
            pointed_at = _pointed_at(model, name)
            if pointed_at is not None and isinstance(values, list):
                wanted.setdefault(pointed_at, set()).update(filter(_is_old_id, values))
    return {
        (pointed_at, row.pk): str(row)
        for pointed_at, ids in wanted.items()
        for row in pointed_at._default_manager.filter(pk__in=ids)
    }


def _related_value(pointed_at: type[models.Model], value: Any, old_ids: OldIds) -> Any:
    if not _is_old_id(value):
        return value  # recorded by name (or empty)
    name = old_ids.get((pointed_at, value))
    return name if name is not None else gettext("id %(id)s (no longer exists)") % {"id": value}


def shown_entry(
    action: str, target: str, changes: dict, old_ids: OldIds | None = None
) -> ShownEntry:
    """What a person reads of an entry: an "add" lists what was set (a "delete" what was
    there), without the empty and internal fields; every field in the model's own words; a row
    an old entry names by id, by its name from `old_ids` (old_id_names) or as gone."""
    model = _model_of(target)
    whole_row = action in ("add", "delete")
    rows = []
    for name, values in changes.items():
        if name == BULK_NAMES or not (isinstance(values, list) and len(values) == 2):
            continue
        old, new = values
        if whole_row and (_internal(model, name) or _is_empty(new if action == "add" else old)):
            continue
        pointed_at = _pointed_at(model, name)
        if pointed_at is not None:
            old, new = (_related_value(pointed_at, v, old_ids or {}) for v in (old, new))
        rows.append(ShownChange(_field_label(model, name), _value(old), _value(new)))
    names = [str(n) for n in changes.get(BULK_NAMES, [])]
    return ShownEntry(rows, names[:NAMES_SHOWN], names[NAMES_SHOWN:])
