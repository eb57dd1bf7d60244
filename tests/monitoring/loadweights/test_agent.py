"""HAProxy's agent-check protocol: the parser on plain text, and a stub agent on loopback."""

import asyncio

import pytest

from monitoring.loadweights.agent import AgentReply, agent_weight, ask_agent, parse_reply


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("75%\n", AgentReply(percent=75)),
        ("up\n", AgentReply(health="up")),
        ("down\n", AgentReply(health="down")),
        ("down#disk full\n", AgentReply(health="down", reason="disk full")),
        ("fail\n", AgentReply(health="down")),
        ("stopped\n", AgentReply(health="down")),
        ("drain\n", AgentReply(admin="drain")),
        ("maint\n", AgentReply(admin="maint")),
        ("ready\n", AgentReply(admin="ready")),
        ("UP 50%,maxconn:30\r\n", AgentReply(percent=50, health="up")),
        ("ready\tup 100%", AgentReply(percent=100, admin="ready", health="up")),
    ],
)
def test_each_keyword_is_read(line, reply):
    assert parse_reply(line) == reply


def test_a_reply_with_no_known_word_is_an_error_that_quotes_it():
    assert parse_reply("hello there\n").error == "agent reply not understood: 'hello there'"
    assert parse_reply("").error == "agent sent nothing"


def test_a_percentage_scales_the_configured_weight_within_ipvs_range():
    assert agent_weight(200, 75) == 150
    assert agent_weight(3, 50) == 2  # rounded
    assert agent_weight(100, 0) == 0
    assert agent_weight(60000, 200) == 65535


async def _stub(reply: bytes):
    """An agent on loopback that answers every connection with `reply` and closes."""

    async def answer(reader, writer):
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (b"75%\n", AgentReply(percent=75)),
        (b"drain\n", AgentReply(admin="drain")),
        (b"maint\n", AgentReply(admin="maint")),
        (b"ready\n", AgentReply(admin="ready")),
        (b"down#db dump running\n", AgentReply(health="down", reason="db dump running")),
        (b"up", AgentReply(health="up")),  # closed without a newline, as some agents do
    ],
)
def test_a_stub_agent_on_loopback_is_read(sent, expected):
    async def run():
        server, port = await _stub(sent)
        async with server:
            return await ask_agent("127.0.0.1", port, timeout=5)

    assert asyncio.run(run()) == expected


def test_an_agent_that_refuses_is_an_error_naming_its_port():
    async def run():
        server, port = await _stub(b"")
        server.close()
        await server.wait_closed()
        return port, await ask_agent("127.0.0.1", port, timeout=5)

    port, reply = asyncio.run(run())
    assert not reply.understood
    assert reply.error == f"agent on port {port}: connection refused"


def test_an_agent_that_says_nothing_times_out_with_the_timeout_named():
    async def run():
        async def silent(reader, writer):
            await reader.read()  # the client's close ends it

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await ask_agent("127.0.0.1", port, timeout=0.2)

    reply = asyncio.run(run())
    assert reply.error.endswith("did not answer within 0.2 s")
