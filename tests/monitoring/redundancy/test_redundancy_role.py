import json

import pytest

from monitoring.redundancy.role import (
    ROLE_ACTIVE,
    ROLE_FAULT,
    ROLE_SINGLE,
    ROLE_STANDBY,
    DirectorRole,
    read_role,
    write_role,
)


def test_missing_file_reads_as_single_director(tmp_path):
    role = read_role(tmp_path / "director-role.json")
    assert role.role == ROLE_SINGLE
    assert role.serves and not role.redundant


def test_written_role_reads_back(tmp_path):
    path = tmp_path / "var" / "director-role.json"
    write_role(path, ROLE_ACTIVE, "keepalived: MASTER", "192.0.2.2", now=100.0)
    assert read_role(path) == DirectorRole(ROLE_ACTIVE, 100.0, "keepalived: MASTER", "192.0.2.2")
    assert json.loads(path.read_text())["role"] == "active"


def test_since_dates_the_transition_not_the_last_notification(tmp_path):
    path = tmp_path / "r.json"
    write_role(path, ROLE_STANDBY, "first", now=10.0)
    write_role(path, ROLE_STANDBY, "again", now=20.0)
    assert read_role(path).since == 10.0
    assert read_role(path).reason == "again"
    write_role(path, ROLE_ACTIVE, "took over", now=30.0)
    assert read_role(path).since == 30.0


@pytest.mark.parametrize("content", ["{not json", '{"role": "king"}', "[1, 2]"])
def test_bad_file_reads_as_fault_never_active(tmp_path, content):
    path = tmp_path / "r.json"
    path.write_text(content)
    role = read_role(path)
    assert role.role == ROLE_FAULT
    assert not role.serves
    assert role.reason


def test_unknown_role_is_refused_on_write(tmp_path):
    with pytest.raises(ValueError, match="unknown director role"):
        write_role(tmp_path / "r.json", "king")


def test_standby_does_not_serve(tmp_path):
    path = tmp_path / "r.json"
    write_role(path, ROLE_STANDBY, "keepalived: BACKUP", "192.0.2.1")
    role = read_role(path)
    assert role.is_standby and role.redundant and not role.serves


def test_no_temp_file_left_behind(tmp_path):
    write_role(tmp_path / "r.json", ROLE_ACTIVE)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
