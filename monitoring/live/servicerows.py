"""The worker's table as one stored row per service (Django-free): each service's key, the
columns CONTROL/MONITORING filters and sums on, and the diff between two tables that says which
rows a write must touch.

The table used to be one JSON document (14.6 MB at 10,000 x 10): every change of one counter
rewrote it, and the first page load after a change decoded all of it to show ten services. Kept
a row a service, a change writes the services that changed and a load reads the ones it shows.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitoring.ipvs.table import ServiceKey, Table, table_rows

# Between the real servers' addresses in the searched column: no address holds it, and a search
# box cannot send it, so a search never matches across two addresses.
ADDRESS_SEPARATOR = "\n"


def sort_text(key: ServiceKey) -> str:
    """The service's stored key: text that sorts, byte by byte, as ServiceKey sorts (ipvsadm
    -Ln's order, the order the live table pages in). Hex digits only, so every database's
    collation (MariaDB's case- and accent-insensitive ones too) orders it the same: each text
    field hex-encoded and ended by "00" (below any character's code, so a prefix sorts first),
    each number at a fixed width."""
    return (
        f"{key.protocol.encode().hex()}00{key.address.encode().hex()}00"
        f"{key.port:04x}{key.fwmark:08x}{key.family:x}"
    )


@functools.lru_cache(maxsize=1 << 16)
def _labelled(label: str) -> tuple[str, str]:
    # Cached: every write of a changed table keys all its services again (10,000 at scale).
    key = ServiceKey.from_label(label)
    return sort_text(key), key.address


@dataclass(frozen=True)
class ServiceRow:
    """One service of the table as stored: `row` is what the pages show (table_rows' form), the
    other fields are taken out of it for the queries."""

    key: str
    virtual: str
    service: str
    address: str
    addresses: str
    connections: int
    row: dict


def service_row(row: dict) -> ServiceRow:
    """A service in table_rows' form as it is stored. Keyed by the label it shows, so a table
    kept whole before (the migration's), a test's fixture and the worker's rows key alike."""
    key, address = _labelled(row["service"])
    destinations = row.get("destinations") or []
    return ServiceRow(
        key=key,
        virtual=row.get("virtual") or "",
        service=row["service"],
        address=address,
        addresses=ADDRESS_SEPARATOR.join(str(dest["address"]) for dest in destinations),
        connections=sum(int(d.get("active", 0)) + int(d.get("inact", 0)) for d in destinations),
        row=row,
    )


def keyed_rows(table: Table, virtual_names: Mapping[ServiceKey, str]) -> dict[str, dict]:
    """The table's services as the pages show them, by stored key."""
    return {_labelled(row["service"])[0]: row for row in table_rows(table, dict(virtual_names))}


# What a row shows of a service beside its key (service_flags' persistence and mask), and of a
# destination (table_rows): where it is and how it is reached, then its connection counters.
_settings = operator.attrgetter("scheduler", "persistent", "netmask")
_placed = operator.attrgetter("address", "port", "forward", "weight")
_shown = operator.attrgetter("address", "port", "forward", "weight", "active_conn", "inact_conn")


@dataclass(frozen=True)
class TableDigest:
    """A table as its rows would show it (keyed_rows'), in numbers: what the status writer keeps
    of the table it last wrote, to tell what changed, instead of the table and its rows (7 MB
    at 1,000 x 10; a row's JSON is 1.4 kB, its digest 32 bytes). `rows`: each service's row by
    stored key; `shape`: table_shape's, once worked out (not compared: the rows tell every
    change of the shape too)."""

    rows: dict[str, int]
    shape: int | None = field(default=None, compare=False)


def table_digest(table: Table, virtual_names: Mapping[ServiceKey, str]) -> TableDigest:
    """The table's digest, made of what its rows are made of: each service's scheduler and
    persistence (its key is the stored key), its virtual server's name, and each destination's
    address, port, forward, weight and counters. Python's hash, which runs in C: 1,000 x 10 in
    about 3 ms, where comparing the table with the last one took 4. A change of one number (a
    counter, a weight) changes the digest for certain, since CPython's tuple and frozenset
    hashes are one-to-one in each element (but for the one value each reserves), and any other
    change but for a chance in 2**64. No digest outlives the process, whose string hashes are
    its own. Without the shape, which only a changed table needs (table_shape): working both
    out every round was most of a quiet status round's digest."""
    names = virtual_names.get
    rows: dict[str, int] = {}
    for key, entry in table.items():
        stored = _labelled(key.label())[0]  # keyed_rows' key (cached by label)
        shown = frozenset(map(_shown, entry.destinations.values()))
        rows[stored] = hash((_settings(entry.service), names(key, ""), shown))
    return TableDigest(rows)


def table_shape(table: Table, virtual_names: Mapping[ServiceKey, str]) -> int:
    """The table without its connection counters, in one number: the same for two tables that
    differ in their destinations' counters alone (a destination is keyed by its address and
    port)."""
    names = virtual_names.get
    return hash(
        frozenset(
            (
                _labelled(key.label())[0],
                _settings(entry.service),
                names(key, ""),
                frozenset(map(_placed, entry.destinations.values())),
            )
            for key, entry in table.items()
        )
    )


@dataclass(frozen=True)
class RowDiff:
    """What one write of the table does: the services to insert or update (new, or their content
    changed) and the keys to delete. `whole`: what is stored is not known (a worker's first
    write, or another worker wrote since), so every service is written and every other stored
    row deleted."""

    written: dict[str, dict]
    deleted: frozenset[str]
    whole: bool

    @property
    def empty(self) -> bool:
        return not (self.written or self.deleted or self.whole)


def row_diff(
    stored: Mapping[str, object] | None,
    now: Mapping[str, dict],
    compared: Mapping[str, object] | None = None,
) -> RowDiff:
    """The rows to write to go from `stored` (None: unknown) to `now`. `stored` holds what each
    stored row is compared by: the row itself, or a digest of it (the status writer's:
    TableDigest.rows), given for the rows of `now` as `compared`."""
    if stored is None:
        return RowDiff(dict(now), frozenset(), whole=True)
    by = now if compared is None else compared
    written = {key: row for key, row in now.items() if stored.get(key) != by[key]}
    return RowDiff(written, frozenset(stored.keys() - now.keys()), whole=False)
