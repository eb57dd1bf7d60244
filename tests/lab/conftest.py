"""Fixtures for the VM lab (run by scripts/lab.sh inside the VM; see scripts/testbed/topology.py).

- `topology` (session): bridges, namespaces and both MariaDB real servers, built and started once
  (MariaDB takes seconds to start under TCG). Tests may stop or kill a server through
  `topology.mariadb[name]`; the next test gets it running again.
- `bare_director` (every test, automatic): an empty IPVS table and no VIPs on the director, so each
  test starts from a freshly booted director with the real servers up.
- `applier`: an lvs.cf and an apply-state file of the test's own, and `applylvs` to run on them.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.testbed.topology import Topology, build, reset_director, run, teardown
from tests.lab.product import Applier


def pytest_report_header(config: pytest.Config) -> list[str]:
    ipvsadm = run("ipvsadm", "--version", check=False).stdout.strip()
    return [f"lab kernel: {platform.release()}; {ipvsadm}"]


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    base = Path(os.environ.get("LAB_RUN_DIR") or tmp_path_factory.getbasetemp()) / "topology"
    base.mkdir(parents=True)
    lab = build(base)
    try:
        lab.start_all()
        yield lab
    finally:
        teardown(lab)


@pytest.fixture(autouse=True)
def bare_director(topology: Topology) -> Iterator[None]:
    reset_director()
    # A test may have stopped or killed a real server's MariaDB: bring it back for the next one.
    topology.start_all()
    yield


@pytest.fixture
def applier(tmp_path: Path) -> Applier:
    return Applier(tmp_path)
