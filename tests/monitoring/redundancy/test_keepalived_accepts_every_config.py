"""keepalived itself reads every configuration lvsadmin generates, and says nothing about it:
`keepalived -t` (the configuration check) and a real start of its VRRP process, each in a network
namespace of the test's own, with no warning or error in their output. A warning there is a
configuration keepalived half-ignores: a label on an IPv6 VIP made `keepalived -t` exit 5, and
the deprecated `vrrp_track_file` was only seen at run time (the check did not report it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.redundancy import keepalived as k
from virtualservers.lvsconf.parse import parse

HEAD = """
serial_no = 7
primary = 192.0.2.1
service = lvs
backup_active = 1
backup = 192.0.2.2
keepalive = 1
deadtime = 4
network = direct
monitor_links = {links}
"""
VIRTUAL = """
virtual {name} {{
     active = 1
     address = {address}
     port = 80
     server one {{
         address = {real}
         active = 1
     }}
}}
"""
VIPS = {
    "ipv4": ["192.0.2.100 eth0"],
    "ipv4 with aliases": ["192.0.2.100 eth0:1", "192.0.2.101 eth1:2"],
    "ipv4 and ipv6": ["192.0.2.100 eth0", "2001:db8::80 eth0"],
    "ipv4 and ipv6 with aliases": ["192.0.2.100 eth0:1", "2001:db8::80 eth0:2"],
}
DIRECTORS = {"primary": [("192.0.2.1", "eth0")], "backup": [("192.0.2.2", "eth0")]}
# Anything keepalived says about a configuration it does not fully take.
PROBLEM = re.compile(
    r"deprecat|warn|error|cannot|ignor|invalid|unknown|sensible|not supported|unsafe", re.I
)
# The namespace holds the devices the configurations name (keepalived wants them to exist), and
# the primary's address, so that the real start finds which director it is.
NAMESPACE = (
    "ip link add eth0 type veth peer name eth1 && ip link set lo up && "
    "ip addr add 192.0.2.1/24 dev eth0 && exec "
)


def generated(vips: list[str], links: int, local, tmp_path: Path) -> Path:
    text = HEAD.format(links=links)
    for number, address in enumerate(vips):
        real = f"198.51.100.{number + 1}"
        text += VIRTUAL.format(name=f"web{number}", address=address, real=real)
    config = parse(text)[0]
    script = Path(k.__file__).with_name("hook.py").resolve()
    hooks = k.Hooks(
        (sys.executable, str(script)),
        tmp_path / "role.json",
        tmp_path / "yield",
        tmp_path / "ready",
    )
    conf = tmp_path / "keepalived.conf"
    conf.write_text(k.render(config, k.whoami(config, local), hooks))
    return conf


def in_namespace(command: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", NAMESPACE + command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("links", [0, 1])
@pytest.mark.parametrize("director", sorted(DIRECTORS))
@pytest.mark.parametrize("vips", sorted(VIPS))
def test_keepalived_check_finds_nothing_to_say_about_the_generated_config(
    tmp_path, vips, director, links
):
    conf = generated(VIPS[vips], links, DIRECTORS[director], tmp_path)
    check = in_namespace('keepalived -t -l -f "$0"', str(conf), timeout=30)
    said = check.stdout + check.stderr
    assert (check.returncode, said) == (0, ""), conf.read_text()


@pytest.mark.parametrize("vips", sorted(VIPS))
def test_keepalived_starts_on_the_generated_config_without_a_warning(tmp_path, vips):
    conf = generated(VIPS[vips], 1, DIRECTORS["primary"], tmp_path)
    (tmp_path / "ready").write_text(k.NOT_READY)  # stays in FAULT: it never takes a VIP
    run = in_namespace(
        'timeout -s TERM 3 keepalived --vrrp --dont-fork --log-console -f "$0" -p "$1" -r "$2"',
        str(conf),
        str(tmp_path / "keepalived.pid"),
        str(tmp_path / "vrrp.pid"),
        timeout=30,
    )
    said = run.stdout + run.stderr
    assert "Startup complete" in said, said
    assert [line for line in said.splitlines() if PROBLEM.search(line)] == []
