"""Piranha's `load_monitor = uptime`: `<rsh_command> RIP uptime`, and the 1-minute load in its
answer. Only ssh: rsh sends everything in clear and trusts the source address.

The command is lvsadmin's own (nothing of it comes from a form but the real server's address,
which the parser has checked is an address), so it is not a check program from the allowed
directories; it runs under the same rules as one all the same: as the check user, with no
supplementary groups and a clean environment, stdin closed, killed at the timeout. ssh is made
to fail rather than ask (BatchMode), to refuse an unknown host key (StrictHostKeyChecking), and
to give up connecting within the timeout; who it logs in as and with which key comes from an
ssh_config file root writes (LVSADMIN_UPTIME_SSH_CONFIG), since the check user has no home.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from monitoring.checks.programs import spawn

_LOAD = re.compile(r"load averages?:\s*([0-9]+(?:[.,][0-9]+)?)")


@dataclass(frozen=True)
class UptimeReading:
    load: float | None
    error: str = ""


def uptime_argv(ssh: str, config: str, address: str, timeout: float) -> list[str]:
    """The command line: options before the host, so that nothing can be read as one."""
    return [
        ssh,
        "-F",
        config,
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"ConnectTimeout={max(1, int(timeout))}",
        "-n",
        "--",
        address,
        "uptime",
    ]


def parse_uptime(output: str) -> float | None:
    """The 1-minute load of `uptime`'s line (`... load average: 0.42, 0.30, 0.25`; some
    systems print `load averages:` and a decimal comma)."""
    match = _LOAD.search(output)
    return float(match.group(1).replace(",", ".")) if match else None


async def read_uptime(
    argv: list[str], timeout: float, user: int | None = None, group: int | None = None
) -> UptimeReading:
    """Run the command (as `user`/`group` when given) and read the load from its output."""
    try:
        process = await spawn(argv, user, group, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        return UptimeReading(None, f"cannot run {argv[0]}: {exc.strerror}")
    try:
        output, errors = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return UptimeReading(None, f"uptime over ssh did not answer within {timeout:g} s")
    if process.returncode != 0:
        said = errors.decode("utf-8", "replace").strip().splitlines()
        detail = f": {said[-1][:120]}" if said else ""
        return UptimeReading(None, f"ssh exited with status {process.returncode}{detail}")
    load = parse_uptime(output.decode("utf-8", "replace"))
    if load is None:
        return UptimeReading(None, "no load average in uptime's answer")
    return UptimeReading(load)
