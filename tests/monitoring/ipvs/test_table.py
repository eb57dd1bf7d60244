"""Desired table and minimal diff, on plain data (the same claims are checked for real in the lab)."""

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.ipvs.table import (
    Destination,
    RealServerRef,
    Service,
    ServiceEntry,
    ServiceKey,
    apply_ops,
    desired_state,
    desired_table,
    diff,
    format_table,
)
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer
from virtualservers.lvsconf.parse import parse

VIP = "192.0.2.240"
KEY = ServiceKey.for_address("tcp", VIP, 3306)


def seed(**virtual_fields) -> LvsConfig:
    fields = dict(
        name="mysql", active=True, address=VIP, device="eth0:1", port=3306, scheduler="lc",
        servers=[RealServer("db1", "192.0.2.241", True, None, 1), RealServer("db2", "192.0.2.242", True, None, 1)],
    )  # fmt: skip
    fields.update(virtual_fields)
    return LvsConfig(network="direct", virtuals=[VirtualServer(**fields)])


def dests(table, key=KEY):
    return {(d.address, d.port): (d.forward, d.weight) for d in table[key].destinations.values()}


def test_it_builds_the_seed_table_with_direct_routing():
    table = desired_table(seed())
    assert table[KEY].service.scheduler == "lc"
    assert dests(table) == {
        ("192.0.2.241", 3306): ("route", 1),
        ("192.0.2.242", 3306): ("route", 1),
    }


def test_it_maps_network_types_to_forwarding_methods():
    for network, forward in (("direct", "route"), ("nat", "masq"), ("tunnel", "tunnel")):
        config = seed()
        config.network = network
        assert {f for f, _w in dests(desired_table(config)).values()} == {forward}


def test_it_uses_the_daemons_default_network_nat_when_absent():
    config = seed()
    config.network = None
    assert {f for f, _w in dests(desired_table(config)).values()} == {"masq"}


def test_it_leaves_out_inactive_virtuals_and_inactive_real_servers():
    config = seed()
    config.virtuals[0].servers[1].active = False
    assert list(dests(desired_table(config))) == [("192.0.2.241", 3306)]
    config.virtuals[0].active = None  # absent means inactive
    assert desired_table(config) == {}


def test_it_gives_a_real_server_without_port_the_virtuals_port():
    config = seed()
    config.virtuals[0].servers[0].port = 13306
    assert set(dests(desired_table(config))) == {("192.0.2.241", 13306), ("192.0.2.242", 3306)}


def test_it_removes_a_down_real_server():
    table = desired_table(seed(), down={RealServerRef("mysql", "192.0.2.241", 3306)})
    assert list(dests(table)) == [("192.0.2.242", 3306)]


def test_it_quiesces_a_down_real_server_to_weight_zero():
    table = desired_table(
        seed(quiesce_server=True), down={RealServerRef("mysql", "192.0.2.241", 3306)}
    )
    assert dests(table)[("192.0.2.241", 3306)] == ("route", 0)


def test_it_brings_in_the_sorry_server_only_while_no_real_server_is_up():
    down = {
        RealServerRef("mysql", "192.0.2.241", 3306),
        RealServerRef("mysql", "192.0.2.242", 3306),
    }
    assert dests(desired_table(seed(sorry_server="192.0.2.250"), down=down)) == {
        ("192.0.2.250", 3306): ("route", 1)
    }
    assert ("192.0.2.250", 3306) not in dests(desired_table(seed(sorry_server="192.0.2.250")))


def test_it_makes_a_firewall_mark_service_and_resolves_shared_marks_as_piranha_did():
    text = open_sample("07-xiemx-dr-two-vs-same-fwmark-send_program.cf")
    state = desired_state(parse(text)[0])
    key = ServiceKey.for_fwmark(100)
    assert list(state.table) == [key]
    assert {d.port for d in state.table[key].destinations.values()} == {80}  # the first block's
    assert "virtual https" in state.warnings[0]
    assert [(v.address, v.prefixlen, v.device, v.label) for v in state.vips] == [
        ("172.25.30.100", 24, "eth0", "eth0:1")
    ]


def test_it_sets_persistence_and_treats_a_host_mask_as_unset():
    table = desired_table(seed(persistent=300, pmask="255.255.255.0"))
    assert (table[KEY].service.persistent, table[KEY].service.netmask) == (300, "255.255.255.0")
    assert desired_table(seed(persistent=300, pmask="255.255.255.255"))[KEY].service.netmask == ""


def test_it_adds_the_nat_router_in_nat_mode():
    config = seed()
    config.network, config.nat_router_ip, config.nat_router_device = "nat", "192.0.2.254", "eth1:1"
    router = desired_state(config).nat_router
    assert (router.address, router.device, router.label, router.prefixlen) == (
        "192.0.2.254",
        "eth1",
        "eth1:1",
        32,
    )


def test_it_changes_a_weight_with_exactly_one_edit():
    current = desired_table(seed())
    config = seed()
    config.virtuals[0].servers[0].weight = 5
    ops = diff(current, desired_table(config), owned={KEY})
    assert [op.to_ipvsadm() for op in ops] == [f"-e -t {VIP}:3306 -r 192.0.2.241:3306 -g -w 5"]


def test_it_adds_and_removes_one_real_server_with_one_operation_each():
    current = desired_table(seed())
    config = seed()
    config.virtuals[0].servers[1] = RealServer("db3", "192.0.2.243", True, None, 1)
    ops = [op.to_ipvsadm() for op in diff(current, desired_table(config), owned={KEY})]
    assert ops == [
        f"-a -t {VIP}:3306 -r 192.0.2.243:3306 -g -w 1",
        f"-d -t {VIP}:3306 -r 192.0.2.242:3306",
    ]


def test_it_edits_a_scheduler_change_in_place():
    ops = diff(desired_table(seed()), desired_table(seed(scheduler="wlc")), owned={KEY})
    assert [op.to_ipvsadm() for op in ops] == [f"-E -t {VIP}:3306 -s wlc"]


def test_it_never_touches_a_foreign_service():
    foreign = ServiceKey.for_address("tcp", "203.0.113.9", 80)
    current = desired_table(seed())
    current[foreign] = ServiceEntry(
        Service(foreign, "rr"), {("203.0.113.10", 80): Destination("203.0.113.10", 80)}
    )
    assert diff(current, {}, owned={KEY}) == diff(desired_table(seed()), {}, owned={KEY})
    assert all(op.service.key != foreign for op in diff(current, {}, owned={KEY}))


def test_it_orders_additions_before_removals():
    current = desired_table(seed())
    config = seed(address="192.0.2.239")
    actions = [op.action for op in diff(current, desired_table(config), owned={KEY})]
    assert actions == ["add_service", "add_dest", "add_dest", "del_service"]


def test_it_prints_the_table_like_ipvsadm():
    text = format_table(desired_table(seed(persistent=60, pmask="255.255.240.0")))
    assert text.splitlines()[1:] == [
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        f"TCP  {VIP}:3306 lc persistent 60 mask 255.255.240.0",
        "  -> 192.0.2.241:3306             Route   1      0          0         ",
        "  -> 192.0.2.242:3306             Route   1      0          0         ",
    ]


def open_sample(name: str) -> str:
    from tests.virtualservers.samples import sample_path

    return sample_path(name).read_text()


# --- properties over generated tables ---------------------------------------------------------

services = st.builds(
    lambda port, sched, pers: Service(ServiceKey.for_address("tcp", "198.51.100.1", port), sched, pers),
    st.integers(1, 20), st.sampled_from(["rr", "wlc", "lc"]), st.sampled_from([0, 300]),
)  # fmt: skip
destinations = st.builds(
    Destination,
    st.sampled_from(["203.0.113.1", "203.0.113.2", "203.0.113.3"]), st.integers(1, 3),
    st.sampled_from(["route", "masq", "local"]), st.integers(0, 5), st.integers(0, 2),
)  # fmt: skip


@st.composite
def tables(draw):
    result = {}
    for service in draw(st.lists(services, max_size=5)):
        result[service.key] = ServiceEntry(
            service, {d.key: d for d in draw(st.lists(destinations, max_size=4))}
        )
    return result


def shape(table):
    return {
        k: (v.service.attributes(), {dk: d.attributes() for dk, d in v.destinations.items()})
        for k, v in table.items()
    }


@settings(max_examples=300, deadline=None)
@given(tables(), tables(), tables())
def test_applying_the_diff_yields_the_desired_table_and_spares_foreign_services(
    current, desired, foreign
):
    foreign = {k: v for k, v in foreign.items() if k not in current and k not in desired}
    current_all = {**current, **foreign}
    owned = set(current)
    after = apply_ops(current_all, diff(current_all, desired, owned))
    assert shape({k: v for k, v in after.items() if k not in foreign}) == shape(desired)
    assert shape({k: v for k, v in after.items() if k in foreign}) == shape(foreign)


@settings(max_examples=200, deadline=None)
@given(tables())
def test_a_converged_table_needs_no_operation(table):
    assert diff(table, table, set(table)) == []


def as_a_dump_reads_it(table, change=None):
    """`table` as the kernel shows it under traffic: new objects, every destination with
    connections, and the direct-routing ones of the services on even ports named "local" (as
    the kernel names one on a local address); `change`, if given, replaces the destination it
    names (service key, destination key) with its value."""
    dump = {}
    for key, entry in table.items():
        destinations = {}
        for dkey, dest in entry.destinations.items():
            forward = "local" if dest.forward == "route" and key.port % 2 == 0 else dest.forward
            destinations[dkey] = replace(dest, forward=forward, active_conn=7, inact_conn=30)
        dump[key] = ServiceEntry(replace(entry.service), destinations)
    if change is not None:
        (key, dkey), dest = change
        dump[key].destinations[dkey] = dest
    return dump


def test_a_destination_changed_among_a_thousand_services_under_traffic_is_found_alone():
    # Drift repair diffs the whole table every few seconds: the services that need nothing are
    # passed over at once, and that must never pass over the one that changed.
    lines = ["serial_no = 1", "network = direct"]
    for n in range(1000):
        lines += [f"virtual vs{n} {{", " active = 1", f" address = 192.0.2.{n % 250 + 1} eth0",
                  f" port = {1000 + n}"]  # fmt: skip
        for m in range(10):
            lines += [f" server r{m} {{", f"  address = 198.51.100.{m + 1}", "  active = 1",
                      f"  port = {2000 + m}", " }"]  # fmt: skip
        lines.append("}")
    desired = desired_table(parse("\n".join(lines) + "\n")[0])
    assert diff(as_a_dump_reads_it(desired), desired, set(desired)) == []
    key = ServiceKey.for_address("tcp", "192.0.2.118", 1617)  # vs617, a service in the middle
    dkey = ("198.51.100.5", 2004)
    for drift, op in (
        (replace(desired[key].destinations[dkey], weight=0), "-e"),  # someone's ipvsadm -e
        (replace(desired[key].destinations[dkey], forward="masq"), "-e"),
    ):
        ops = diff(as_a_dump_reads_it(desired, ((key, dkey), drift)), desired, set(desired))
        assert [o.to_ipvsadm() for o in ops] == [
            f"{op} -t 192.0.2.118:1617 -r 198.51.100.5:2004 -g -w 1"
        ]
    gone = as_a_dump_reads_it(desired)
    del gone[key].destinations[dkey]
    assert [o.to_ipvsadm() for o in diff(gone, desired, set(desired))] == [
        "-a -t 192.0.2.118:1617 -r 198.51.100.5:2004 -g -w 1"
    ]
    extra = as_a_dump_reads_it(
        desired, ((key, ("198.51.100.99", 80)), Destination("198.51.100.99", 80))
    )
    assert [o.to_ipvsadm() for o in diff(extra, desired, set(desired))] == [
        "-d -t 192.0.2.118:1617 -r 198.51.100.99:80"
    ]
    edited = as_a_dump_reads_it(desired)
    edited[key].service = replace(edited[key].service, scheduler="rr")
    assert [o.to_ipvsadm() for o in diff(edited, desired, set(desired))] == [
        "-E -t 192.0.2.118:1617 -s wlc"
    ]


def test_it_names_an_ipv6_firewall_mark_service_as_ipvsadm_does():
    key = ServiceKey.for_fwmark(8, 6)
    text = format_table({key: ServiceEntry(Service(key, "sh"))})
    assert "\nFWM  8 IPv6 sh\n" in text
    v4 = ServiceKey.for_fwmark(8)
    assert "\nFWM  8 sh\n" in format_table({v4: ServiceEntry(Service(v4, "sh"))})
