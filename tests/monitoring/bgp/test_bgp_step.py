"""The worker's BGP step without a BIRD to talk to: sloppy_tcp set in BGP mode only, what it
says when it cannot work, and that stopping never starts a BIRD."""

from __future__ import annotations

from pathlib import Path

from monitoring.bgp import announce, bird
from monitoring.bgp.director import BgpControl
from monitoring.ipvs.drivers.base import KernelAddress
from monitoring.ipvs.drivers.memory import MemoryDriver
from virtualservers.lvsconf.parse import parse

BGP = parse(
    "network = direct\nbgp = 1\nbgp_local_as = 64512\nbgp_router = 198.51.100.1\n"
    "bgp_router_as = 64513\n"
    "virtual web {\n active = 1\n address = 192.0.2.100 lo\n port = 80\n scheduler = mh\n"
    "     server a {\n address = 203.0.113.1\n active = 1\n }\n}\n"
)[0]


def control(tmp_path: Path) -> BgpControl:
    # No BIRD at these paths: "bird" cannot start, birdc finds no socket.
    paths = bird.BirdPaths(
        tmp_path / "bird.conf",
        tmp_path / "bird.ctl",
        tmp_path / "bird.pid",
        bird=str(tmp_path / "no-bird"),
        birdc=str(tmp_path / "no-birdc"),
    )
    sysctls = tmp_path / "vs"
    sysctls.mkdir()
    (sysctls / "sloppy_tcp").write_text("0\n")
    return BgpControl(paths, sysctls)


def driver() -> MemoryDriver:
    found = MemoryDriver()
    found.address_list = [KernelAddress("198.51.100.11", 24, "eth0", "")]
    return found


def test_bgp_mode_sets_sloppy_tcp_for_flows_moved_from_another_director(tmp_path):
    step = control(tmp_path)
    step.step(BGP, driver(), table_loaded=True)
    assert (tmp_path / "vs" / "sloppy_tcp").read_text() == "1\n"


def test_other_modes_leave_sloppy_tcp_alone(tmp_path):
    step = control(tmp_path)
    step.step(parse("network = direct\n")[0], driver(), table_loaded=True)
    assert (tmp_path / "vs" / "sloppy_tcp").read_text() == "0\n"
    assert not step.state.enabled


def test_a_bird_that_cannot_start_is_said_and_the_configuration_is_kept_private(tmp_path):
    step = control(tmp_path)
    step.step(BGP, driver(), table_loaded=True)
    assert step.state.enabled and "no-bird" in step.state.message
    assert (tmp_path / "bird.conf").stat().st_mode & 0o777 == 0o600
    assert "route 192.0.2.100/32 unreachable;" in (tmp_path / "bird.conf").read_text()


def test_no_router_on_this_directors_networks_is_said(tmp_path):
    step = control(tmp_path)
    elsewhere = MemoryDriver()
    elsewhere.address_list = [KernelAddress("192.0.2.9", 24, "eth0", "")]
    step.step(BGP, elsewhere, table_loaded=True)
    assert "no address of this director is on router 198.51.100.1" in step.state.message


def test_stopping_the_worker_never_starts_a_bird(tmp_path):
    step = control(tmp_path)
    step.withdraw_all(BGP, driver())
    assert not (tmp_path / "bird.conf").exists()


def test_the_operators_flag_withdraws_everything_and_is_reported(tmp_path):
    flag = tmp_path / "bgp-out-of-service"
    flag.write_text("1\n")
    step = control(tmp_path)
    step.service_file = flag
    step.step(BGP, driver(), table_loaded=True)
    assert not step.state.in_service
    assert step.state.withdrawn == {"192.0.2.100": announce.OUT_OF_SERVICE}
    flag.write_text("0\n")
    step.step(BGP, driver(), table_loaded=True)
    assert step.state.in_service and step.state.withdrawn == {}
