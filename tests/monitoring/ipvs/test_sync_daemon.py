"""The IPVS connection sync daemon through the drivers: the netlink encoding and the memory
driver's kernel semantics."""

import pytest

from monitoring.ipvs.drivers.base import DriverError, SyncDaemon
from monitoring.ipvs.drivers.codec import (
    IPVS_CMD_ATTR_DAEMON,
    daemon_payload,
    parse_daemon,
)
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.ipvs.drivers.netlink import walk_attrs


def test_start_payload_carries_state_interface_and_syncid_masked_to_a_byte():
    payload = daemon_payload("master", "eth1", 300)
    [(kind, start, end)] = list(walk_attrs(payload))
    assert kind == IPVS_CMD_ATTR_DAEMON
    assert parse_daemon(payload, start, end) == SyncDaemon("master", "eth1", 44)


def test_stop_payload_carries_only_the_state():
    payload = daemon_payload("backup")
    [(_kind, start, end)] = list(walk_attrs(payload))
    assert [k for k, _s, _e in walk_attrs(payload, start, end)] == [1]
    assert parse_daemon(payload, start, end) == SyncDaemon("backup", "", 0)


def test_memory_driver_runs_one_daemon_per_state_like_the_kernel():
    driver = MemoryDriver()
    driver.start_sync_daemon("master", "eth0", 7)
    driver.start_sync_daemon("backup", "eth0", 7)
    assert driver.sync_daemons() == [
        SyncDaemon("backup", "eth0", 7),
        SyncDaemon("master", "eth0", 7),
    ]
    with pytest.raises(DriverError):
        driver.start_sync_daemon("master", "eth0", 7)
    driver.stop_sync_daemon("master")
    with pytest.raises(DriverError):
        driver.stop_sync_daemon("master")
    assert driver.sync_daemons() == [SyncDaemon("backup", "eth0", 7)]
