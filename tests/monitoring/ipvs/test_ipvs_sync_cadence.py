"""The sync daemon's cadence in the kernel's sysctl files (net.ipv4.vs.sync_*), read and written
in their formats; here in a directory standing for /proc/sys/net/ipv4/vs (the host kernel has no
IPVS; the lab reads the real ones back with sysctl)."""

from monitoring.ipvs.drivers.base import KERNEL_SYNC_CADENCE, SyncCadence
from monitoring.ipvs.drivers.kernel import read_sync_cadence, write_sync_cadence


def test_the_kernels_format_is_read_and_written(tmp_path):
    # As a fresh kernel shows them: the threshold's two numbers separated by a tab.
    (tmp_path / "sync_threshold").write_text("3\t50\n")
    (tmp_path / "sync_refresh_period").write_text("0\n")
    (tmp_path / "sync_retries").write_text("0\n")
    assert read_sync_cadence(tmp_path) == KERNEL_SYNC_CADENCE
    write_sync_cadence(SyncCadence(3, 0, 10, 1), tmp_path)
    assert (tmp_path / "sync_threshold").read_text() == "3 0\n"
    assert read_sync_cadence(tmp_path) == SyncCadence(3, 0, 10, 1)
