from virtualservers.interfaces import local_interfaces, missing_interface


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
