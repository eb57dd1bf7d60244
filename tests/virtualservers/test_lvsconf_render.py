"""The renderer writes piranha-gui's exact layout."""

import pytest

from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render

# piranha.md §1.7: an illustrative file in the exact stock-GUI layout.
STOCK_GUI_FILE = """serial_no = 12
primary = 192.0.2.10
service = lvs
backup_active = 1
backup = 192.0.2.11
heartbeat = 1
heartbeat_port = 539
keepalive = 6
deadtime = 18
network = direct
debug_level = NONE
monitor_links = 0
syncdaemon = 1
syncd_iface = eth0
syncd_id = 0
virtual www {
     active = 1
     address = 192.0.2.100 eth0:1
     sorry_server = 192.0.2.50
     vip_nmask = 255.255.255.0
     port = 80
     persistent = 300
     pmask = 255.255.255.0
     send = "GET /health HTTP/1.0\\r\\n\\r\\n"
     expect = "HTTP/1.[01] 200"
     use_regex = 1
     load_monitor = none
     scheduler = wlc
     protocol = tcp
     timeout = 6
     reentry = 15
     quiesce_server = 0
     server web1 {
         address = 192.0.2.21
         active = 1
         port = 8080
         weight = 1
     }
}
"""


def test_it_writes_a_stock_gui_file_back_byte_for_byte():
    assert render(parse(STOCK_GUI_FILE)[0]) == STOCK_GUI_FILE


def test_it_writes_the_seed_configuration_in_piranhas_layout():
    config = LvsConfig(
        serial_no=3,
        primary="192.0.2.1",
        service="lvs",
        network="direct",
        virtuals=[
            VirtualServer(
                name="mysql",
                active=True,
                address="192.0.2.240",
                device="eth0:1",
                port=3306,
                send_program="/root/mysql_mon.sh %h",
                expect="UP",
                use_regex=True,
                scheduler="lc",
                protocol="tcp",
                timeout=6,
                reentry=15,
                servers=[
                    RealServer("db1", "192.0.2.241", True, None, 1),
                    RealServer("db2", "192.0.2.242", True, None, 1),
                ],
            )
        ],
    )
    assert render(config) == (
        "serial_no = 3\nprimary = 192.0.2.1\nservice = lvs\nnetwork = direct\n"
        "virtual mysql {\n"
        "     active = 1\n"
        "     address = 192.0.2.240 eth0:1\n"
        "     port = 3306\n"
        '     expect = "UP"\n'
        "     use_regex = 1\n"
        '     send_program = "/root/mysql_mon.sh %h"\n'
        "     scheduler = lc\n"
        "     protocol = tcp\n"
        "     timeout = 6\n"
        "     reentry = 15\n"
        "     server db1 {\n         address = 192.0.2.241\n         active = 1\n         weight = 1\n     }\n"
        "     server db2 {\n         address = 192.0.2.242\n         active = 1\n         weight = 1\n     }\n"
        "}\n"
    )


def test_it_writes_lf_only_and_ends_with_a_newline():
    text = render(LvsConfig(network="nat", virtuals=[VirtualServer("a", active=False)]))
    assert "\r" not in text and text.endswith("}\n")
    assert "     active = 0\n" in text  # explicit, since the parser's default is 0 anyway


def test_it_refuses_a_value_that_cannot_be_written():
    with pytest.raises(ValueError, match="virtual a send"):
        render(LvsConfig(virtuals=[VirtualServer("a", send='say "hi"')]))


def test_it_writes_nat_router_as_address_and_device():
    assert "nat_router = 192.0.2.254 eth1:1\n" in render(
        LvsConfig(nat_router_ip="192.0.2.254", nat_router_device="eth1:1")
    )
