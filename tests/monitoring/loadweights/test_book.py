"""The state of every real server's load weight, on plain configurations and a fake clock."""

from monitoring.live.holds import RuntimeState
from monitoring.loadweights.agent import AgentReply
from monitoring.loadweights.book import LoadBook
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.lvsconf.parse import parse

A = RealServerRef("db", "192.0.2.21", 3306)
B = RealServerRef("db", "192.0.2.22", 3306)


def config(monitor: str, weight: int = 100, extra: str = ""):
    text = (
        "rsh_command = ssh\n"
        "virtual db {\n     active = 1\n     address = 192.0.2.10 eth0:1\n     port = 3306\n"
        f"     load_monitor = {monitor}\n{extra}"
        f"     server a {{\n         address = 192.0.2.21\n         active = 1\n"
        f"         weight = {weight}\n     }}\n"
        "     server b {\n         address = 192.0.2.22\n         active = 1\n     }\n}\n"
    )
    return parse(text)[0]


def book(monitor: str = "mysql", **kwargs) -> LoadBook:
    result = LoadBook(clock=lambda: 0.0)
    result.sync(config(monitor, **kwargs))
    return result


def test_a_server_starts_at_its_configured_weight():
    loads = book()
    assert loads.weights() == {}
    assert {row["address"]: row["load_weight"] for row in loads.rows()} == {
        "192.0.2.21": 100,
        "192.0.2.22": 1,
    }


def test_load_readings_move_the_weight_by_nannys_formula():
    loads = book()
    assert loads.record_load(A, 0.0, "mysql") == 150
    assert loads.record_load(A, 0.0, "mysql") == 200
    assert loads.weights() == {A: 200}
    assert loads.record_load(A, 9.0, "mysql") == 100
    assert loads.weights() == {}
    [row] = [r for r in loads.rows() if r["address"] == A.address]
    assert row["why"] == "load 9.00 (mysql): lowered"


def test_a_reading_during_slow_starts_ramp_changes_nothing():
    loads = book()
    assert loads.record_load(A, 0.0, "mysql", ramping=True) is None
    assert loads.weights() == {}
    assert "slow start ramping" in loads.rows()[0]["why"]


def test_a_failed_read_keeps_the_weight_and_says_why():
    loads = book()
    loads.record_load(A, 0.0, "mysql")
    loads.record_load(A, None, "uptime over ssh did not answer within 6 s")
    assert loads.weights() == {A: 150}
    assert loads.rows()[0]["why"] == "uptime over ssh did not answer within 6 s"


def test_a_server_back_in_the_table_starts_again_from_its_weight():
    loads = book()
    loads.record_load(A, 0.0, "mysql")
    loads.reset(A)
    assert loads.weights() == {}


def test_a_new_configuration_keeps_what_the_load_made_unless_the_weight_changed():
    loads = book()
    loads.record_load(A, 0.0, "mysql")
    loads.sync(config("mysql"))
    assert loads.weights() == {A: 150}
    loads.sync(config("mysql", weight=50))
    assert loads.weights() == {}
    loads.sync(config("none"))
    assert loads.rows() == []


def test_the_agents_words_set_weight_holds_and_down():
    loads = book("agent", extra="     agent_port = 9777\n")
    assert loads.record_agent(A, AgentReply(percent=40)) is True
    assert loads.weights() == {A: 40}
    loads.record_agent(A, AgentReply(admin="drain"))
    loads.record_agent(B, AgentReply(admin="maint"))
    assert loads.held() == {A: RuntimeState.DRAIN, B: RuntimeState.MAINTENANCE}
    loads.record_agent(B, AgentReply(admin="ready"))
    assert loads.held() == {A: RuntimeState.DRAIN}
    loads.record_agent(B, AgentReply(health="down", reason="disk full"))
    assert loads.down() == frozenset({B})
    assert loads.record_agent(B, AgentReply(health="down", reason="disk full")) is False
    loads.record_agent(B, AgentReply(health="up"))
    assert loads.down() == frozenset()


def test_an_unreachable_agent_changes_nothing_but_is_shown():
    loads = book("agent", extra="     agent_port = 9777\n")
    loads.record_agent(A, AgentReply(percent=40))
    assert (
        loads.record_agent(A, AgentReply(error="agent on port 9777: connection refused")) is False
    )
    assert loads.weights() == {A: 40}
    row = next(r for r in loads.rows() if r["address"] == A.address)
    assert row["why"] == "agent on port 9777: connection refused"


def test_rup_and_ruptime_do_nothing():
    assert book("rup").rows() == []
