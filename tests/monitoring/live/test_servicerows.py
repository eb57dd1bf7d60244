"""The worker's table as stored rows, on plain data: keys that sort as the kernel table does, the
label read back, and the diff that says which rows a write touches."""

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from monitoring.ipvs.table import ServiceKey
from monitoring.live.servicerows import row_diff, service_row, sort_text

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
