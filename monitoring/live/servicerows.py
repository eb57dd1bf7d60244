"""The worker's table as one stored row per service (Django-free): each service's key, the
columns CONTROL/MONITORING filters and sums on, and the diff between two tables that says which
rows a write must touch.

The table used to be one JSON document (14.6 MB at 10,000 x 10): every change of one counter
rewrote it, and the first page load after a change decoded all of it to show ten services. Kept
a row a service, a change writes the services that changed and a load reads the ones it shows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

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


def row_diff(stored: Mapping[str, dict] | None, now: Mapping[str, dict]) -> RowDiff:
    """The rows to write to go from `stored` (None: unknown) to `now`."""
    if stored is None:
        return RowDiff(dict(now), frozenset(), whole=True)
    written = {key: row for key, row in now.items() if stored.get(key) != row}
    return RowDiff(written, frozenset(stored.keys() - now.keys()), whole=False)
