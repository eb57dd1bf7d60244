"""lvs.cf texts for the set-up tests: the guide's DR MySQL balancer, and variants."""

from virtualservers.lvsconf.parse import parse


def lvs_cf(network: str = "direct", serial: int = 7, extra_global: str = "") -> str:
    return (
        f"serial_no = {serial}\n"
        "primary = 192.0.2.1\n"
        "service = lvs\n"
        "backup_active = 1\n"
        "backup = 192.0.2.2\n"
        f"network = {network}\n"
        f"{extra_global}"
        "virtual mysql {\n"
        "     active = 1\n"
        "     address = 192.0.2.240 eth0:1\n"
        "     port = 3306\n"
        "     server mysql1 {\n"
        "         address = 192.0.2.241\n"
        "         active = 1\n"
        "     }\n"
        "     server mysql2 {\n"
        "         address = 192.0.2.242\n"
        "         active = 1\n"
        "     }\n"
        "}\n"
        "virtual www {\n"
        "     active = 1\n"
        "     address = 192.0.2.250 eth0:2\n"
        "     port = 80\n"
        "     server web1 {\n"
        "         address = 192.0.2.241\n"
        "         active = 1\n"
        "     }\n"
        "}\n"
        "virtual www6 {\n"
        "     active = 1\n"
        "     address = 2001:db8::250 eth0:3\n"
        "     port = 80\n"
        "     server web6 {\n"
        "         address = 192.0.2.243\n"
        "         active = 1\n"
        "     }\n"
        "}\n"
    )


def config(network: str = "direct", **kwargs):
    parsed, _warnings = parse(lvs_cf(network, **kwargs))
    return parsed
