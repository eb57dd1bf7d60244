"""The worker's table as stored rows, on plain data: keys that sort as the kernel table does, the
label read back, and the diff that says which rows a write touches."""

import ipaddress
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey, Table, Traffic
from monitoring.live.servicerows import (
    keyed_rows,
    row_diff,
    service_row,
    sort_text,
    table_digest,
    table_shape,
)

addresses = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: str(ipaddress.ip_address(a)))
)
keys = st.one_of(
    st.builds(
        ServiceKey.for_address,
        st.sampled_from(["tcp", "udp"]),
        addresses,
        st.integers(0, 65535),
    ),
    st.builds(ServiceKey.for_fwmark, st.integers(1, 2**32 - 1), st.sampled_from([4, 6])),
)


@given(st.lists(keys, max_size=30))
def test_the_stored_keys_sort_as_the_kernel_tables_services(found):
    """The live table pages in the stored key's order: it must be ipvsadm -Ln's (ServiceKey's),
    also for addresses that are prefixes of others (192.0.2.1, 192.0.2.10)."""
    assert sorted(found, key=sort_text) == sorted(found)


@given(keys)
def test_a_label_reads_back_as_its_key(key):
    assert ServiceKey.from_label(key.label()) == key


def row(label: str, virtual: str, *dests: tuple[str, int, int]) -> dict:
    return {"service": label, "scheduler": "wlc", "flags": "", "virtual": virtual,
            "destinations": [{"endpoint": f"{a}:80", "address": a, "port": 80, "forward": "Route",
                              "weight": 1, "active": active, "inact": inact}
                             for a, active, inact in dests]}  # fmt: skip


def test_a_stored_row_holds_what_the_queries_filter_and_sum_on():
    stored = service_row(
        row("TCP  192.0.2.1:80", "www", ("198.51.100.1", 3, 4), ("198.51.100.2", 1, 0))
    )
    assert (stored.virtual, stored.address, stored.connections) == ("www", "192.0.2.1", 8)
    assert stored.addresses.split("\n") == ["198.51.100.1", "198.51.100.2"]
    assert service_row(row("FWM  7", "", ("198.51.100.1", 0, 0))).address == ""


def test_the_diff_names_the_changed_the_new_and_the_gone_services_alone():
    before = {"a": row("TCP  192.0.2.1:80", "a"), "b": row("TCP  192.0.2.2:80", "b"),
              "c": row("TCP  192.0.2.3:80", "c")}  # fmt: skip
    after = {"a": before["a"], "b": row("TCP  192.0.2.2:80", "b", ("198.51.100.1", 1, 0)),
             "d": row("TCP  192.0.2.4:80", "d")}  # fmt: skip
    diff = row_diff(before, after)
    assert (set(diff.written), diff.deleted, diff.whole) == ({"b", "d"}, {"c"}, False)
    assert row_diff(after, after).empty
    unknown = row_diff(None, after)
    assert unknown.whole and unknown.written == after and not unknown.empty


A, B = ServiceKey.for_address("tcp", "192.0.2.1", 80), ServiceKey.for_fwmark(7, 6)


def plain_table(**changes) -> Table:
    """Two services of two real servers each; `changes` replaces fields of A's first real
    server (or, prefixed "service_", of A's service)."""
    service = {k[8:]: v for k, v in changes.items() if k.startswith("service_")}
    dest = {k: v for k, v in changes.items() if not k.startswith("service_")}
    table = {}
    for key in (A, B):
        dests = [Destination("198.51.100.1", 80, active_conn=3), Destination("2001:db8::2", 80)]
        if key == A:
            dests[0] = replace(dests[0], **dest)
        entry = ServiceEntry(replace(Service(key, "wlc"), **(service if key == A else {})))
        entry.destinations = {d.key: d for d in dests}
        table[key] = entry
    return table


NAMES = {A: "www", B: "mark"}
TRAFFIC = Traffic(1, 2, 3, 4, 5)


def rows(table: Table, names=NAMES) -> dict[str, int]:
    return table_digest(table, names).rows


def shape(table: Table, names=NAMES) -> int:
    return table_shape(table, names)


def test_a_services_digest_changes_with_every_value_its_row_shows_and_with_nothing_else():
    before, unmoved = rows(plain_table()), shape(plain_table())
    assert before.keys() == keyed_rows(plain_table(), NAMES).keys()
    for changes, counters_alone in (
        ({"active_conn": 4}, True),
        ({"inact_conn": 1}, True),
        ({"weight": 0}, False),
        ({"forward": "masq"}, False),
        ({"forward": "local"}, False),  # shown as "Local", not "Route"
        ({"address": "198.51.100.9"}, False),
        ({"port": 81}, False),
        ({"service_scheduler": "rr"}, False),
        ({"service_persistent": 300}, False),
        ({"service_persistent": 300, "service_netmask": "255.255.255.0"}, False),
    ):
        after = rows(plain_table(**changes))
        assert {key for key in after if after[key] != before[key]} == {sort_text(A)}, changes
        assert (shape(plain_table(**changes)) == unmoved) is counters_alone, changes
    renamed = {**NAMES, A: "web"}
    assert rows(plain_table(), renamed)[sort_text(A)] != before[sort_text(A)]
    assert shape(plain_table(), renamed) != unmoved
    # Traffic is not shown in the table: it changes nothing.
    assert rows(plain_table(traffic=TRAFFIC, service_traffic=TRAFFIC)) == before
    assert shape(plain_table(traffic=TRAFFIC, active_conn=9)) == unmoved
    gone = plain_table()
    del gone[A].destinations[("2001:db8::2", 80)]
    assert rows(gone)[sort_text(A)] != before[sort_text(A)]
    assert shape(gone) != unmoved
    assert shape({B: plain_table()[B]}) != unmoved


def test_the_diff_by_digests_names_the_changed_the_new_and_the_gone_services_alone():
    stored = rows(plain_table())
    moved = {**plain_table(active_conn=9), ServiceKey.for_fwmark(8): ServiceEntry(Service(B))}
    del moved[B]
    now = keyed_rows(moved, NAMES)
    diff = row_diff(stored, now, rows(moved))
    assert set(diff.written) == {sort_text(A), sort_text(ServiceKey.for_fwmark(8))}
    assert diff.written[sort_text(A)]["destinations"][0]["active"] == 9
    assert (diff.deleted, diff.whole) == ({sort_text(B)}, False)
    same = keyed_rows(plain_table(), NAMES)
    assert row_diff(stored, same, rows(plain_table())).empty
