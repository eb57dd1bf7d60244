from virtualservers.interfaces import (
    local_interfaces,
    local_ipv4_addresses,
    local_ipv6_addresses,
    missing_interface,
)


def test_interfaces_are_the_entries_of_sys_class_net(tmp_path):
    for name in ("lo", "eth0"):
        (tmp_path / name).mkdir()
    assert local_interfaces(tmp_path) == {"lo", "eth0"}


def test_an_unreadable_directory_refuses_nothing(tmp_path):
    assert local_interfaces(tmp_path / "missing") is None
    assert missing_interface("eth9", lambda: None) is None


def test_an_alias_is_checked_by_its_base_device():
    assert missing_interface("eth0:1", lambda: {"eth0"}) is None
    assert missing_interface("eth1:1", lambda: {"eth0"}) == "eth1"


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 192.0.2.0/24 2 0 2
        |-- 192.0.2.0
           /24 link UNICAST
        |-- 192.0.2.7
           /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
  +-- 127.0.0.0/8 2 0 2
     |-- 127.0.0.1
        /32 host LOCAL
"""


def test_local_ipv4_addresses_are_the_host_local_entries_of_fib_trie(tmp_path):
    path = tmp_path / "fib_trie"
    path.write_text(FIB_TRIE)
    # The network (192.0.2.0) and broadcast (192.0.2.255) entries are routes, not addresses.
    assert local_ipv4_addresses(path) == {"192.0.2.7", "127.0.0.1"}


def test_local_ipv6_addresses_read_if_inet6_and_skip_a_garbled_line(tmp_path):
    path = tmp_path / "if_inet6"
    path.write_text(
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "20010db8000000000000000000000080 02 40 00 80     eth0\n"
        "not-hex 02 40 00 80 eth1\n"
    )
    assert local_ipv6_addresses(path) == {"::1", "2001:db8::80"}


def test_missing_proc_files_give_no_addresses(tmp_path):
    assert local_ipv4_addresses(tmp_path / "none") == set()
    assert local_ipv6_addresses(tmp_path / "none") == set()
