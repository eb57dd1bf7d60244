"""HAProxy's agent-check protocol (HAProxy's configuration manual, "agent-check"), on plain text.

The director connects to a TCP port of the real server (its agent), optionally sends a line, and
reads one line back: words separated by spaces, tabs or commas, such as `75%`, `up`, `drain`,
`maint`, `ready`, `down#disk full`. What each word does here:

- `N%`: the weight becomes N % of the configured weight (HAProxy's meaning), at most 65535;
- `drain` / `maint`: the real server is held in drain (weight 0) or maintenance (out of the
  table), shown as held by the agent; `ready` ends either;
- `down`, `fail`, `stopped`: the real server is down whatever its health check says (text after
  `#` is the reason); `up` ends that;
- `maxconn:N` and words lvsadmin does not know are ignored, as HAProxy ignores them; a reply with
  no word it knows changes nothing and is reported.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from monitoring.loadweights.formula import MAX_WEIGHT

# HAProxy reads the reply into one buffer; a line longer than this is not an agent speaking.
MAX_REPLY = 1024
_SPLIT = re.compile(r"[ \t,]+")
_PERCENT = re.compile(r"^([0-9]{1,6})%$")
DOWN_WORDS = frozenset({"down", "fail", "stopped"})


@dataclass(frozen=True)
class AgentReply:
    percent: int | None = None  # the weight as a percentage of the configured weight
    admin: str | None = None  # "drain", "maint" or "ready"
    health: str | None = None  # "up" or "down"
    reason: str = ""  # the text after `#` of a down word
    error: str = ""  # no reply, or nothing lvsadmin understood in it

    @property
    def understood(self) -> bool:
        return not self.error


def parse_reply(text: str) -> AgentReply:
    """Read one agent line (the first line of what the agent sent)."""
    line = text.split("\n", 1)[0].rstrip("\r")
    reason = ""
    if "#" in line:
        line, reason = line.split("#", 1)
        reason = reason.strip()
    percent: int | None = None
    admin: str | None = None
    health: str | None = None
    for word in _SPLIT.split(line.strip().lower()):
        match = _PERCENT.match(word)
        if match:
            percent = int(match.group(1))
        elif word in ("drain", "maint", "ready"):
            admin = word
        elif word in DOWN_WORDS:
            health = "down"
        elif word == "up":
            health = "up"
    if percent is None and admin is None and health is None:
        shown = text.strip()[:60]
        return AgentReply(
            error=f"agent reply not understood: {shown!r}" if shown else "agent sent nothing"
        )
    return AgentReply(percent, admin, health, reason if health == "down" else "")


def agent_weight(weight: int, percent: int) -> int:
    """HAProxy's `N%`: that share of the configured weight, rounded, within IPVS's range."""
    return min(MAX_WEIGHT, (weight * percent + 50) // 100)


async def ask_agent(address: str, port: int, timeout: float, send: bytes = b"") -> AgentReply:
    """One agent check: connect, send `send` if any, read one line (the agent may close the
    connection instead of ending the line), close. A failure is an AgentReply with its error."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port)
            if send:
                writer.write(send)
                await writer.drain()
            data = await reader.read(MAX_REPLY)
            while data and b"\n" not in data and len(data) < MAX_REPLY:
                more = await reader.read(MAX_REPLY - len(data))
                if not more:
                    break
                data += more
    except TimeoutError:
        return AgentReply(error=f"agent on port {port} did not answer within {timeout:g} s")
    except ConnectionRefusedError:
        return AgentReply(error=f"agent on port {port}: connection refused")
    except OSError as exc:
        return AgentReply(error=f"agent on port {port}: {exc.strerror or exc}")
    finally:
        if writer is not None:
            writer.close()
    return parse_reply(data.decode("ascii", "replace"))
