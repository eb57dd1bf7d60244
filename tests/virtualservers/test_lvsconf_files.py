"""Reading an lvs.cf named on a command line: regular files only, a size limit, text only."""

import os
from pathlib import Path

import pytest

from virtualservers.lvsconf import files
from virtualservers.lvsconf.files import MAX_LVS_CF_BYTES, LvsConfFileError, read_lvs_cf


def refusal(path) -> str:
    with pytest.raises(LvsConfFileError) as caught:
        read_lvs_cf(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_it_reads_a_regular_file_keeping_cr_bytes(tmp_path: Path):
    path = tmp_path / "lvs.cf"
    path.write_bytes(b"serial_no = 1\r\n")
    assert read_lvs_cf(path) == "serial_no = 1\r\n"


def test_a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path: Path):
    fifo = tmp_path / "lvs.cf"
    os.mkfifo(fifo)
    assert "not a regular file" in refusal(fifo)


def test_a_device_is_refused():
    assert "not a regular file" in refusal("/dev/zero")


def test_a_directory_is_refused(tmp_path: Path):
    assert "cannot read" in refusal(tmp_path)


def test_a_missing_file_is_named_in_one_line(tmp_path: Path):
    assert "No such file" in refusal(tmp_path / "absent.cf")


def test_a_file_over_the_limit_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(files, "MAX_LVS_CF_BYTES", 64)
    path = tmp_path / "lvs.cf"
    path.write_bytes(b"# filler\n" * 8)
    assert "larger than" in refusal(path)


def test_the_limit_is_far_above_a_large_real_configuration():
    assert MAX_LVS_CF_BYTES == 16 * 1024 * 1024


def test_a_nul_byte_is_refused_naming_its_line(tmp_path: Path):
    path = tmp_path / "lvs.cf"
    path.write_bytes(b"serial_no = 1\nprimary = 192.0.2.1\x00\n")
    assert refusal(path).startswith("line 2: a NUL byte")


def test_a_file_that_is_not_utf8_is_refused_naming_its_line(tmp_path: Path):
    path = tmp_path / "lvs.cf"
    path.write_bytes(b"serial_no = 1\n# caf\xe9\n")
    assert refusal(path).startswith("line 2: cannot read: not UTF-8")
