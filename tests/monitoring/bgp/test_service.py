"""The operator's out-of-service flag and what it does to the announcements."""

from monitoring.bgp import announce, service
from tests.monitoring.bgp.test_bgp_step import BGP


def test_no_flag_file_means_in_service(tmp_path):
    assert not service.out_of_service(tmp_path / "bgp-out-of-service")


def test_taking_out_and_back_changes_once_each(tmp_path):
    flag = tmp_path / "bgp-out-of-service"
    assert service.set_out_of_service(flag, True)
    assert service.out_of_service(flag)
    assert not service.set_out_of_service(flag, True)  # again: nothing changes
    assert service.set_out_of_service(flag, False)
    assert not service.out_of_service(flag)


def test_out_of_service_withdraws_every_vip_even_when_it_could_serve():
    decisions = announce.decide(BGP, table_loaded=True, in_service=False)
    assert decisions == [announce.Decision("192.0.2.100", False, announce.OUT_OF_SERVICE)]
    assert announce.announced(announce.decide(BGP, table_loaded=True)) == ["192.0.2.100"]
