"""The set-up generator's core on plain data: which VIPs each real server carries, per
forwarding method and ARP method, the systemd unit and the MySQL account."""

import subprocess

import pytest

from realservers.setup.plan import (
    PASSWORD_PLACEHOLDER,
    MysqlCheck,
    SetupError,
    plan_for_real,
    plan_for_virtual,
)
from realservers.setup.render import render, render_script, render_sql, render_unit
from tests.realservers.setup_support import config


def test_it_puts_every_vip_on_lo_for_direct_routing():
    plan = plan_for_real(config(), "mysql/mysql1")
    # mysql1's address also serves www: the one script on that host carries both VIPs.
    assert [(h.address, h.vips) for h in plan.hosts] == [
        ("192.0.2.241", ("192.0.2.240", "192.0.2.250"))
    ]
    assert plan.hosts[0].names == ("mysql/mysql1", "www/web1")
    script = render_script(plan)
    assert "METHOD=direct\n" in script and "ARP=sysctl\n" in script
    assert "192.0.2.241) echo '192.0.2.240 192.0.2.250' ;;" in script
    assert 'echo "net/ipv4/conf/$d/arp_ignore 1"' in script
    assert 'echo "net/ipv4/conf/$d/arp_announce 2"' in script
    assert "VIP_DEV=lo" in script and "serial_no 7" in script


def test_it_uses_a_128_bit_prefix_for_an_ipv6_vip():
    plan = plan_for_real(config(), "web6")
    assert plan.hosts[0].vips == ("2001:db8::250",)
    assert 'plen() { if is_v6 "$1"; then echo 128; else echo 32; fi; }' in render_script(plan)


def test_a_real_server_is_found_by_name_by_virtual_and_name_or_by_address():
    for name in ("mysql2", "mysql/mysql2", "192.0.2.242"):
        assert [h.address for h in plan_for_real(config(), name).hosts] == ["192.0.2.242"]


def test_an_unknown_real_server_is_an_error_that_names_it():
    with pytest.raises(SetupError, match="no real server 'nosuch'"):
        plan_for_real(config(), "nosuch")
    with pytest.raises(SetupError, match="no virtual server 'nosuch'"):
        plan_for_virtual(config(), "nosuch")


def test_the_virtual_servers_script_knows_each_of_its_real_servers():
    plan = plan_for_virtual(config(), "mysql")
    assert [h.address for h in plan.hosts] == ["192.0.2.241", "192.0.2.242"]
    script = render_script(plan)
    assert "REAL_ADDRESSES='192.0.2.241 192.0.2.242'" in script
    assert "192.0.2.242) echo '192.0.2.240' ;;" in script


@pytest.mark.parametrize("arp", ["arptables", "nftables"])
def test_the_guides_arp_rules_are_chosen_by_the_arp_option(arp):
    script = render_script(plan_for_real(config(), "mysql1", arp=arp))
    assert f"ARP={arp}\n" in script
    assert 'arptables_add INPUT "$v" -d "$v" -j DROP' in script
    assert 'arptables_add OUTPUT "$v" -s "$v" -j mangle --mangle-ip-s "$SELF"' in script
    assert "arp daddr ip %s drop" in script and "arp saddr ip %s arp saddr ip set %s" in script


def test_an_unknown_arp_method_is_refused():
    with pytest.raises(SetupError, match="unknown ARP method"):
        plan_for_real(config(), "mysql1", arp="ifconfig")


def test_tunnelling_loads_ipip_and_puts_the_vips_on_tunl0_with_rp_filter_off():
    plan = plan_for_real(config("tunnel"), "mysql1")
    script = render_script(plan)
    assert "METHOD=tunnel\n" in script
    assert "modprobe ipip" in script and "ip link set tunl0 up" in script
    assert 'if [ "$METHOD" = tunnel ]; then VIP_DEV=tunl0; else VIP_DEV=lo; fi' in script
    assert 'echo "net/ipv4/conf/all/rp_filter 0"' in script
    assert 'echo "net/ipv4/conf/tunl0/rp_filter 0"' in script


def test_tunnelling_leaves_an_ipv6_vip_out_and_says_so():
    plan = plan_for_real(config("tunnel"), "web6")
    assert plan.hosts[0].vips == ()
    assert any("2001:db8::250" in note and "ip6tnl" in note for note in plan.notes)


def test_nat_checks_the_gateway_and_tells_what_to_run_instead_of_changing_it():
    plan = plan_for_real(config("nat", extra_global="nat_router = 192.0.2.254 eth1:1\n"), "mysql1")
    assert plan.nat_router == "192.0.2.254"
    script = render_script(plan)
    assert "METHOD=nat\n" in script and "NAT_ROUTER='192.0.2.254'" in script
    assert "ip route replace default via $NAT_ROUTER" in script
    # start never runs it: the fix is only printed.
    assert "\n        ip route replace" not in script and "    ip route replace" not in script


def test_nat_without_a_nat_router_says_the_gateway_cannot_be_checked():
    plan = plan_for_real(config("nat"), "mysql1")
    assert any("no nat_router" in note for note in plan.notes)


@pytest.mark.parametrize("network", ["direct", "tunnel", "nat"])
@pytest.mark.parametrize("arp", ["sysctl", "arptables", "nftables"])
def test_every_script_is_valid_posix_sh(network, arp):
    script = render_script(plan_for_virtual(config(network), "mysql", arp=arp))
    # dash is Debian's /bin/sh and as strict as POSIX sh gets.
    subprocess.run(["dash", "-n"], input=script, text=True, check=True)


def test_the_unit_is_a_oneshot_that_stays_active_and_runs_start_and_stop():
    unit = render_unit(plan_for_real(config(), "mysql1"))
    for line in (
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/usr/local/sbin/lvsadmin-realserver start",
        "ExecStop=/usr/local/sbin/lvsadmin-realserver stop",
        "WantedBy=multi-user.target",
        "After=network-online.target",
    ):
        assert line in unit.splitlines()


def test_the_unit_of_arp_rules_starts_after_nftables_which_flushes_the_ruleset():
    unit = render_unit(plan_for_real(config(), "mysql1", arp="nftables"))
    assert "After=network-online.target nftables.service arptables.service" in unit


def test_the_monitoring_account_is_the_checks_user_limited_to_each_director_with_usage_only():
    plan = plan_for_real(
        config(), "mysql1", mysql_checks={"mysql": MysqlCheck("lvs_check", "shop")}
    )
    sql = render_sql(plan)
    for director in ("192.0.2.1", "192.0.2.2"):
        who = f"'lvs_check'@'{director}'"
        assert f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY '{PASSWORD_PLACEHOLDER}';" in sql
        assert f"GRANT USAGE ON *.* TO {who};" in sql
        # The database needs more than USAGE: offered as a comment, never granted.
        assert f"-- GRANT SELECT ON `shop`.* TO {who};" in sql
    grants = [line for line in sql.splitlines() if line.startswith("GRANT")]
    assert grants and all(line.startswith("GRANT USAGE ON *.* TO ") for line in grants)


def test_the_guides_mysql_service_without_a_builtin_check_gets_a_user_to_replace():
    sql = render_sql(plan_for_real(config(), "mysql1"))
    assert "CREATE USER IF NOT EXISTS 'lvsmon'@'192.0.2.1'" in sql
    assert "lvsmon is a name to replace" in sql


def test_a_user_name_with_a_quote_cannot_break_out_of_the_sql_string():
    plan = plan_for_real(config(), "mysql1", mysql_checks={"mysql": MysqlCheck("o'k\\")})
    assert "'o''k\\\\'@'192.0.2.1'" in render_sql(plan)


def test_a_real_server_without_a_mysql_service_gets_no_account():
    sql = render(plan_for_real(config(), "web6"), "sql")
    assert "nothing to do" in sql and "CREATE USER" not in sql


def test_an_unknown_format_is_refused():
    with pytest.raises(SetupError, match="unknown format"):
        render(plan_for_real(config(), "mysql1"), "exe")
