"""The plan of the checks through the forwarding path (lvsconf.paths): which real servers get one,
their private firewall marks, and the reason a failed one gives. Plain data only."""

from __future__ import annotations

from virtualservers.lvsconf.model import LvsConfig, RealServer, RealServerRef, VirtualServer
from virtualservers.lvsconf.paths import (
    PATH_MARK_FIRST,
    PATH_MARK_LAST,
    PathCheck,
    is_path_mark,
    path_checks,
)

VIP = "192.0.2.240"


def virtual(name: str = "mysql", *addresses: str, **fields) -> VirtualServer:
    servers = [
        RealServer(name=f"rs{i}", address=address, active=True)
        for i, address in enumerate(addresses or ("192.0.2.241", "192.0.2.242"))
    ]
    fields.setdefault("address", VIP)
    fields.setdefault("device", "eth0:1")
    fields.setdefault("active", True)
    fields.setdefault("port", 3306)
    return VirtualServer(name=name, servers=servers, **fields)


def config(*virtuals: VirtualServer, network: str = "direct") -> LvsConfig:
    return LvsConfig(network=network, virtuals=list(virtuals or [virtual()]))


def test_direct_routing_checks_every_active_real_server_through_the_vip() -> None:
    plan = path_checks(config())
    assert set(plan) == {
        RealServerRef("mysql", "192.0.2.241", 3306),
        RealServerRef("mysql", "192.0.2.242", 3306),
    }
    for ref, path in plan.items():
        assert (path.ref, path.vip, path.forward) == (ref, VIP, "route")
        assert is_path_mark(path.mark)


def test_tunnelling_checks_through_the_tunnel() -> None:
    plan = path_checks(config(network="tunnel"))
    assert {path.forward for path in plan.values()} == {"tunnel"}


def test_nat_gets_no_path_check() -> None:
    assert path_checks(config(network="nat")) == {}
    assert path_checks(LvsConfig(virtuals=[virtual()])) == {}  # the daemons' default is nat


def test_path_check_0_turns_it_off_for_that_virtual_server_only() -> None:
    plan = path_checks(config(virtual("off", path_check=False), virtual("on", "192.0.2.243")))
    assert {ref.virtual for ref in plan} == {"on"}


def test_a_sending_program_gets_no_path_check_unless_another_check_kind_replaces_it() -> None:
    with_program = virtual(send_program="/usr/local/lib/lvsadmin/checks/mysql_mon.sh %h")
    assert path_checks(config(with_program)) == {}
    assert path_checks(config(with_program), {"mysql": "nanny"}) == {}
    # The built-in MySQL check (or an HTTP check) is used instead of the program: checked.
    assert len(path_checks(config(with_program), {"mysql": "mysql"})) == 2
    assert len(path_checks(config(virtual(send_program="/x %h", check="http")))) == 2


def test_inactive_loopback_and_ipv6_real_servers_and_virtuals_get_none() -> None:
    servers = virtual("v", "192.0.2.241", "127.0.0.1", "2001:db8::5")
    servers.servers.append(RealServer(name="off", address="192.0.2.250", active=False))
    plan = path_checks(config(servers, virtual("idle", "192.0.2.9", active=False)))
    assert [ref.address for ref in plan] == ["192.0.2.241"]
    assert path_checks(config(virtual(address="2001:db8::240"))) == {}
    assert path_checks(config(virtual(address=None, device=None))) == {}


def test_marks_are_unique_in_the_private_range_and_shared_by_one_endpoint() -> None:
    many = [f"192.0.2.{i}" for i in range(1, 200)]
    plan = path_checks(config(virtual("a", *many), virtual("b", "192.0.2.1", port=3306)))
    marks = {(p.address, p.port): p.mark for p in plan.values()}
    assert len(set(marks.values())) == len(marks) == 199
    assert all(PATH_MARK_FIRST <= mark <= PATH_MARK_LAST for mark in marks.values())
    # The same real server endpoint in two virtual servers: one private service, one mark.
    assert plan[RealServerRef("a", "192.0.2.1", 3306)].mark == (
        plan[RealServerRef("b", "192.0.2.1", 3306)].mark
    )


def test_marks_are_stable_when_other_real_servers_come_and_go() -> None:
    before = path_checks(config(virtual("a", "192.0.2.241", "192.0.2.242")))
    after = path_checks(config(virtual("a", "192.0.2.242", "192.0.2.243", "192.0.2.244")))
    ref = RealServerRef("a", "192.0.2.242", 3306)
    assert before[ref].mark == after[ref].mark
    assert path_checks(config(virtual("a", "192.0.2.241", "192.0.2.242"))) == before


def test_an_operators_mark_in_the_private_range_is_never_given_to_a_path_check() -> None:
    first = path_checks(config())
    taken = next(iter(first.values())).mark
    operators = virtual("marked", "192.0.2.9", fwmark=taken)
    plan = path_checks(config(virtual(), operators))
    assert taken not in {p.mark for p in plan.values()}


def test_the_reason_says_what_failed_and_what_to_fix() -> None:
    ref = RealServerRef("mysql", "192.0.2.242", 3306)
    route = PathCheck(ref, VIP, PATH_MARK_FIRST, "route")
    assert route.failed_reason("connect timed out after 6 s") == (
        "answers on 192.0.2.242:3306 but not through VIP 192.0.2.240:3306 (connect timed out "
        "after 6 s): is the VIP on its lo (with arp_ignore=1, arp_announce=2)? See Set up"
    )
    tunnel = PathCheck(ref, VIP, PATH_MARK_FIRST, "tunnel")
    assert "is its tunl0 up with the VIP" in tunnel.failed_reason("connection refused")
    assert len(route.failed_reason("x" * 60)) <= 255  # the health row's column
