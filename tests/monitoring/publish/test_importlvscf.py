"""importlvscf and exportlvscf: real files in, the same configuration out; bad files change nothing."""

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.virtualservers.samples import VALID_SAMPLES, sample_path
from virtualservers.lvsconf.parse import parse
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db


def normalised(config):
    """What the draft always writes explicitly (serial aside) compared as the daemons read it."""
    config.serial_no = None
    config.backup_active = bool(config.backup_active)
    for virtual in config.virtuals:
        virtual.active = bool(virtual.active)
        for server in virtual.servers:
            server.active = bool(server.active)
    return config


def export() -> str:
    out = io.StringIO()
    call_command("exportlvscf", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_it_imports_every_valid_sample_and_exports_the_same_configuration(name):
    original = sample_path(name).read_text()
    call_command("importlvscf", str(sample_path(name)), stdout=io.StringIO(), stderr=io.StringIO())
    exported, _ = parse(export())
    expected, _ = parse(original)
    assert normalised(exported) == normalised(expected)


def test_it_changes_nothing_for_a_file_with_a_bad_line(tmp_path: Path):
    call_command("importlvscf", str(sample_path("10-netkiller-master-dr.cf")), stdout=io.StringIO())
    before = export()
    with pytest.raises(CommandError, match=r"line 1: unexpected arguments.*nothing was imported"):
        call_command(
            "importlvscf", str(sample_path("17-csdn-annotated-inline-comments-INVALID.cf"))
        )
    assert export() == before


def test_it_changes_nothing_when_a_value_is_refused_by_the_models(tmp_path: Path):
    bad = tmp_path / "lvs.cf"
    bad.write_text(
        'network = direct\nvirtual web {\n     active = 1\n     address = 192.0.2.80 eth0:1\n     send_program = "relative/check %h"\n}\n'
    )
    with pytest.raises(CommandError, match="virtual web monitoring script: send_program"):
        call_command("importlvscf", str(bad))
    assert not VirtualServer.objects.exists()


def test_it_shows_a_dry_run_without_changing_anything():
    out = io.StringIO()
    call_command(
        "importlvscf",
        str(sample_path("07-xiemx-dr-two-vs-same-fwmark-send_program.cf")),
        "--dry-run",
        stdout=out,
    )
    assert "would change: virtual servers added (2): http, https" in out.getvalue()
    assert not VirtualServer.objects.exists()


def test_it_warns_about_crlf_without_failing(tmp_path: Path):
    crlf = tmp_path / "lvs.cf"
    crlf.write_bytes(b"network = direct\r\nvirtual a {\r\n     active = 1\r\n}\r\n")
    err = io.StringIO()
    call_command("importlvscf", str(crlf), stdout=io.StringIO(), stderr=err)
    assert "CRLF" in err.getvalue()
    assert VirtualServer.objects.get().name == "a"


def test_it_exports_lf_only_in_piranhas_layout():
    call_command(
        "importlvscf",
        str(sample_path("14-rdo-openstack-mysql-dr-indented.cf")),
        stdout=io.StringIO(),
    )
    text = export()
    assert "\r" not in text
    assert (
        "virtual openstack_mysql_3306 {\n     active = 1\n     address = 10.0.0.3 eth0:6\n" in text
    )
    assert (
        "     server sql1.example.com {\n         address = 10.0.0.4\n         active = 1\n" in text
    )


def test_it_refuses_a_fifo_at_once_and_changes_nothing(tmp_path: Path):
    fifo = tmp_path / "lvs.cf"
    os.mkfifo(fifo)
    with pytest.raises(CommandError, match="not a regular file; nothing was imported"):
        call_command("importlvscf", str(fifo))
    assert not VirtualServer.objects.exists()


def test_it_refuses_a_weight_the_kernel_cannot_take_naming_the_line(tmp_path: Path):
    bad = tmp_path / "lvs.cf"
    bad.write_text("virtual web {\n     server a {\n         weight = -5\n     }\n}\n")
    with pytest.raises(
        CommandError, match=r"line 3: invalid argument: weight -5 is outside 0-65535"
    ):
        call_command("importlvscf", str(bad))
    assert not VirtualServer.objects.exists()


def test_it_keeps_a_value_pulse_runs_but_the_gui_refuses_and_warns_naming_the_line(
    tmp_path: Path,
):
    path = tmp_path / "lvs.cf"
    path.write_text(
        "keepalive = 0\nvirtual web {\n     timeout = 100000\n     pmask = 255.255.255.0\n"
        "     server a {\n         address = 192.0.2.1\n     }\n}\n"
    )
    err = io.StringIO()
    call_command("importlvscf", str(path), stdout=io.StringIO(), stderr=err)
    assert "lvs.cf: line 1: keepalive 0 is outside" in err.getvalue()
    assert "lvs.cf: line 3: timeout 100000 is outside" in err.getvalue()
    virtual = VirtualServer.objects.get()
    assert (virtual.timeout, virtual.pmask) == (100000, "255.255.255.0")
    assert "keepalive = 0\n" in export() and "     timeout = 100000\n" in export()


def test_it_keeps_the_quotes_of_a_command_through_export_and_import(tmp_path: Path):
    path = tmp_path / "lvs.cf"
    path.write_text('serial_no = 1\nactive_cmd = "/bin/x"\ninactive_cmd = /bin/y\n')
    call_command("importlvscf", str(path), stdout=io.StringIO())
    text = export()
    assert 'active_cmd = "/bin/x"\n' in text and "inactive_cmd = /bin/y\n" in text
    path.write_text(text)
    call_command("importlvscf", str(path), stdout=io.StringIO())
    assert export() == text


def test_it_names_the_real_server_and_field_a_model_refuses(tmp_path: Path):
    bad = tmp_path / "lvs.cf"
    bad.write_text(
        "virtual web {\n     address = 192.0.2.80 eth0:1\n"
        "     server a {\n         address = 2001:db8::1\n     }\n}\n"
    )
    with pytest.raises(CommandError, match="virtual web server a: address: 2001:db8::1 is an IPv6"):
        call_command("importlvscf", str(bad))
    assert not VirtualServer.objects.exists()


def test_it_keeps_every_column_a_round_trip_through_the_draft_needs():
    call_command(
        "importlvscf",
        str(sample_path("07-xiemx-dr-two-vs-same-fwmark-send_program.cf")),
        stdout=io.StringIO(),
    )
    virtual = VirtualServer.objects.select_related("monitoring_script").get(name="http")
    assert virtual.monitoring_script.send_program == "/bin/testlink %h"
    assert virtual.real_servers.count() >= 1
    assert all(rs.virtual_server_id == virtual.pk for rs in virtual.real_servers.all())


def test_it_names_the_virtual_server_and_field_a_column_cannot_hold(tmp_path: Path):
    bad = tmp_path / "lvs.cf"
    bad.write_text("virtual web {\n     address = 192.0.2.80 eth0:averyveryverylongalias\n}\n")
    with pytest.raises(CommandError, match="virtual web: device: "):
        call_command("importlvscf", str(bad))
    assert not VirtualServer.objects.exists()


NO_BACKUP_ACTIVE = """serial_no = 3
primary = 192.0.2.1
service = lvs
network = direct
virtual web {
     address = 192.0.2.80 eth0:1
     port = 80
     server one {
         address = 198.51.100.1
         weight = 1
     }
}
"""


def imported(path: Path) -> str:
    out = io.StringIO()
    call_command("importlvscf", str(path), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_file_without_backup_active_imported_again_changes_and_records_nothing(tmp_path: Path):
    # backup_active absent from the file is 0, as the draft holds it: no "change" from absent to
    # False on every import, and no audit entry for an import that changed nothing.
    from monitoring.models import AuditEntry

    cf = tmp_path / "lvs.cf"
    cf.write_text(NO_BACKUP_ACTIVE)
    first = imported(cf)
    assert "virtual servers added (1): web" in first
    entries = AuditEntry.objects.count()
    again = imported(cf)
    assert "backup_active" not in again
    assert "imported: no changes" in again
    assert AuditEntry.objects.count() == entries
    dry = io.StringIO()
    call_command("importlvscf", str(cf), "--dry-run", stdout=dry)
    assert "would change: no changes" in dry.getvalue()


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_every_valid_sample_imported_a_second_time_changes_nothing(name):
    imported(sample_path(name))
    assert "imported: no changes" in imported(sample_path(name))


def refused_with(path: Path) -> CommandError:
    with pytest.raises(CommandError) as refused:
        call_command("importlvscf", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    return refused.value


def test_a_bad_file_exits_3_as_applylvs_does(tmp_path: Path):
    # One exit-code table for both commands (README, "The worker and applylvs").
    bad = sample_path("17-csdn-annotated-inline-comments-INVALID.cf")
    assert refused_with(bad).returncode == 3
    assert refused_with(tmp_path / "missing.cf").returncode == 3
    refused = tmp_path / "lvs.cf"
    refused.write_text(
        'virtual web {\n     address = 192.0.2.80 eth0:1\n     send_program = "relative/check %h"\n}\n'
    )
    assert refused_with(refused).returncode == 3


# Values the parser takes and the draft's models refuse, each on line 4 of its file.
REFUSED_AFTER_PARSING = {
    "load_monitor": ("     load_monitor = bogus\n", "virtual web: load_monitor: "),
    "send_program": (
        '     send_program = "relative/check %h"\n',
        "virtual web monitoring script: send_program: ",
    ),
    "expect": (f'     expect = "{"x" * 256}"\n', "virtual web monitoring script: expect: "),
    "device": ("     address = 192.0.2.80 eth0:averyveryverylongalias\n", "virtual web: device: "),
}


@pytest.mark.parametrize("field", REFUSED_AFTER_PARSING)
def test_a_value_the_models_refuse_is_named_with_its_line(tmp_path: Path, field: str):
    # The models' refusals named the virtual server and field but not the line.
    line, refusal = REFUSED_AFTER_PARSING[field]
    bad = tmp_path / "lvs.cf"
    bad.write_text(f"network = direct\nvirtual web {{\n     active = 1\n{line}}}\n")
    with pytest.raises(CommandError) as refused:
        call_command("importlvscf", str(bad))
    assert f"{bad}: line 4: {refusal}" in str(refused.value)
    assert refused.value.returncode == 3
    assert not VirtualServer.objects.exists()


def test_a_real_servers_refused_address_is_named_with_its_line(tmp_path: Path):
    bad = tmp_path / "lvs.cf"
    bad.write_text(
        "virtual web {\n     address = 192.0.2.80 eth0:1\n"
        "     server a {\n         weight = 2\n         address = 2001:db8::1\n     }\n}\n"
    )
    with pytest.raises(CommandError, match="line 5: virtual web server a: address: 2001:db8::1"):
        call_command("importlvscf", str(bad))


def test_refused_values_are_named_with_their_own_lines_among_blocks_laid_out_alike(tmp_path: Path):
    # Blocks laid out alike share where their keys sit (lvsconf.model._Block): each block's
    # refusal still names its own line, also for a virtual's key after its server blocks and a
    # block whose keys sit further down than its neighbours'.
    block = (
        "virtual web{n} {{\n     address = 192.0.2.{n} eth0:1\n{comment}"
        "     server a {{\n         address = {address}\n     }}\n{comment}"
        "     load_monitor = {monitor}\n}}\n"
    )
    alike = "".join(
        block.format(n=n, comment="", address="192.0.2.10", monitor="none") for n in (1, 2)
    )
    lines = alike.count("\n")  # 7 a block

    def refusal(comment: str = "", address: str = "192.0.2.10", monitor: str = "none") -> str:
        bad = tmp_path / "lvs.cf"
        bad.write_text(alike + block.format(n=3, comment=comment, address=address, monitor=monitor))
        with pytest.raises(CommandError) as refused:
            call_command("importlvscf", str(bad))
        return str(refused.value)

    moved = "     # further down\n"
    assert f"line {lines + 6}: virtual web3: load_monitor: " in refusal(monitor="bogus")
    assert f"line {lines + 8}: virtual web3: load_monitor: " in refusal(moved, monitor="bogus")
    ipv6 = "virtual web3 server a: address: 2001:db8::1"
    assert f"line {lines + 4}: {ipv6}" in refusal(address="2001:db8::1")
    assert f"line {lines + 5}: {ipv6}" in refusal(moved, address="2001:db8::1")


def test_a_second_virtual_block_of_one_name_is_named_with_its_line(tmp_path: Path):
    bad = tmp_path / "lvs.cf"
    bad.write_text("virtual web {\n     port = 80\n}\nvirtual web {\n     port = 81\n}\n")
    with pytest.raises(CommandError, match="line 4: virtual web: two virtual blocks have this"):
        call_command("importlvscf", str(bad))


def many_real_servers(count: int) -> str:
    """One virtual server of `count` real servers (TEST-NET addresses; parsed, never run)."""
    servers = "".join(
        f"    server rs{n:05d} {{\n        address = 192.0.2.{n % 250 + 1}\n"
        f"        active = 1\n        weight = 1\n    }}\n"
        for n in range(count)
    )
    return (
        "serial_no = 1\nprimary = 192.0.2.1\nservice = lvs\nnetwork = direct\n"
        "virtual web {\n    active = 1\n    address = 192.0.2.200 eth0:1\n    port = 80\n"
        f"    protocol = tcp\n    scheduler = wlc\n{servers}}}\n"
    )


def test_a_large_import_prints_counts_then_a_screenful_and_how_many_more(tmp_path: Path):
    cf = tmp_path / "lvs.cf"
    cf.write_text(many_real_servers(300))
    lines = imported(cf).splitlines()
    assert len(lines) <= 24
    servers = next(line for line in lines if "real servers added" in line)
    assert servers.startswith("imported: real servers added (300): web/rs00000, web/rs00001,")
    assert servers.endswith(", and 290 more")
    assert "web/rs00010" not in servers


def test_a_large_import_lists_every_name_at_verbosity_2(tmp_path: Path):
    cf = tmp_path / "lvs.cf"
    cf.write_text(many_real_servers(30))
    out = io.StringIO()
    call_command("importlvscf", str(cf), verbosity=2, stdout=out, stderr=io.StringIO())
    assert "web/rs00029" in out.getvalue() and "more" not in out.getvalue()
