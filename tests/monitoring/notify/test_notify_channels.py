"""The channels on loopback: the webhook's JSON, retries and timeout; the notify program's argv,
environment and stdin, without a shell, under the check programs' policy."""

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitoring.checks import programs as check_programs
from monitoring.notify.channels import (
    DeliveryError,
    EmailChannel,
    ProgramChannel,
    WebhookChannel,
)
from monitoring.notify.events import director_event, realserver_event
from monitoring.notify.message import Message


class Hook:
    """A loopback webhook receiver answering the statuses given, in turn (then 204)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                status = hook.statuses.pop(0) if hook.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    receivers = []

    def make(statuses=()):
        receivers.append(Hook(statuses))
        return receivers[-1]

    yield make
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def black_hole():
    """A port whose kernel accepts the connection but nobody ever answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()


def storm() -> Message:
    events = [
        realserver_event("web", "192.0.2.11", 80, "DOWN", "UP", "connection refused", at=0.0),
        director_event("lvs1", "MASTER", "BACKUP", at=1.0),
    ]
    return Message(tuple(events), "lvs1", sent_at=2.0)


def test_the_webhook_posts_the_documented_json(hook):
    receiver = hook()
    result = WebhookChannel(receiver.url, timeout=2, retries=0).deliver(storm())
    assert result == "HTTP 204"
    (body,) = receiver.bodies
    assert body == {
        "source": "lvsadmin",
        "director": "lvs1",
        "test": False,
        "sent_at": "1970-01-01T00:00:02Z",
        "summary": "2 changes: 1 director MASTER, 1 realserver DOWN",
        "count": 2,
        "dropped": 0,
        "events": [
            {
                "type": "REALSERVER",
                "name": "web/192.0.2.11:80",
                "state": "DOWN",
                "previous": "UP",
                "reason": "connection refused",
                "at": "1970-01-01T00:00:00Z",
                "virtual": "web",
                "address": "192.0.2.11",
                "port": 80,
            },
            {
                "type": "DIRECTOR",
                "name": "lvs1",
                "state": "MASTER",
                "previous": "BACKUP",
                "reason": "",
                "at": "1970-01-01T00:00:01Z",
            },
        ],
    }
    assert receiver.headers[0]["Content-Type"] == "application/json"


def test_the_webhook_retries_a_server_error_with_back_off(hook):
    receiver = hook([500, 503])
    start = time.monotonic()
    result = WebhookChannel(receiver.url, timeout=2, retries=3, backoff=0.2).deliver(storm())
    elapsed = time.monotonic() - start
    assert result == "HTTP 204 after 2 retries"
    assert len(receiver.bodies) == 3
    assert elapsed >= 0.2 + 0.4  # waited backoff, then twice backoff


def test_the_webhook_gives_up_after_its_retries_and_says_why(hook):
    receiver = hook([500] * 10)
    with pytest.raises(DeliveryError, match=r"HTTP 500 .*\(3 attempts\)"):
        WebhookChannel(receiver.url, timeout=2, retries=2, backoff=0.01).deliver(storm())
    assert len(receiver.bodies) == 3


def test_the_webhook_does_not_retry_a_request_the_receiver_refuses(hook):
    receiver = hook([404])
    with pytest.raises(DeliveryError, match=r"HTTP 404 .*\(1 attempt\)"):
        WebhookChannel(receiver.url, timeout=2, retries=3, backoff=0.01).deliver(storm())
    assert len(receiver.bodies) == 1


def test_a_webhook_that_never_answers_times_out_each_attempt(black_hole):
    channel = WebhookChannel(black_hole, timeout=0.3, retries=1, backoff=0.1)
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out \(2 attempts\)"):
        channel.deliver(storm())
    assert 0.6 <= time.monotonic() - start < 2.0


def test_the_webhook_url_must_be_http():
    with pytest.raises(DeliveryError, match="http"):
        WebhookChannel("file:///etc/passwd", retries=0).deliver(storm())


def test_email_hands_subject_body_and_recipients_to_the_sender():
    sent = []
    channel = EmailChannel(("ops@example.org",), lambda *args: sent.append(args))
    assert channel.deliver(storm()) == "sent to ops@example.org"
    ((subject, body, recipients),) = sent
    assert subject == "[lvsadmin lvs1] 2 changes: 1 director MASTER, 1 realserver DOWN"
    assert "REALSERVER web/192.0.2.11:80: UP -> DOWN (connection refused)" in body
    assert "DIRECTOR lvs1: BACKUP -> MASTER" in body
    assert recipients == ("ops@example.org",)


# --- notify program -----------------------------------------------------------------------------


@pytest.fixture
def notify_dir(tmp_path: Path) -> Path:
    """A program directory as root would make it (the tests run as root)."""
    directory = tmp_path / "notify"
    directory.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(directory, 0o755)
    return directory


def policy(directory: Path, as_root: bool) -> check_programs.ProgramPolicy:
    return check_programs.ProgramPolicy(
        dirs=(str(directory),),
        root_dirs=(str(directory),) if as_root else (),
        owner=os.getuid(),
    )


def script(directory: Path, body: str) -> str:
    path = directory / "notify.sh"
    path.write_text("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return str(path)


def test_the_program_gets_type_name_state_then_env_and_json_on_stdin(notify_dir, tmp_path):
    out = tmp_path / "out"
    prog = script(
        notify_dir,
        f'for a in "$@"; do echo "arg:$a"; done >> {out}\n'
        f"env | sort >> {out}\n"
        f"cat >> {out}; echo >> {out}\n",
    )
    channel = ProgramChannel(f"{prog} --site=east", timeout=5, policy=policy(notify_dir, True))
    assert channel.deliver(storm()) == "ran 2 times, exit status 0"
    text = out.read_text()
    args = [line[4:] for line in text.splitlines() if line.startswith("arg:")]
    assert args == [
        "--site=east",
        "REALSERVER",
        "web/192.0.2.11:80",
        "DOWN",
        "--site=east",
        "DIRECTOR",
        "lvs1",
        "MASTER",
    ]
    for line in (
        "LVSADMIN_TYPE=REALSERVER",
        "LVSADMIN_VIRTUAL=web",
        "LVSADMIN_ADDRESS=192.0.2.11",
        "LVSADMIN_PORT=80",
        "LVSADMIN_PREVIOUS_STATE=UP",
        "LVSADMIN_REASON=connection refused",
        "LVSADMIN_DIRECTOR=lvs1",
    ):
        assert line in text.splitlines()
    # Nothing of the worker's environment (which holds the database password) leaks.
    names = {
        line.split("=", 1)[0] for line in text.splitlines() if "=" in line and line[0].isupper()
    }
    assert names <= {"PATH", "LANG", "PWD", "SHLVL", "_"} | {
        n for n in names if n.startswith("LVSADMIN_")
    }
    stdin = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert stdin[0]["name"] == "web/192.0.2.11:80" and stdin[0]["director"] == "lvs1"
    assert stdin[1]["type"] == "DIRECTOR" and stdin[1]["previous"] == "BACKUP"


def test_the_program_runs_without_a_shell(notify_dir, tmp_path):
    out, marker = tmp_path / "out", tmp_path / "pwned"
    prog = script(notify_dir, f'echo "$1" > {out}\n')
    command = f"{prog} x;touch${{IFS}}{marker}"
    ProgramChannel(command, timeout=5, policy=policy(notify_dir, True)).deliver(storm())
    assert out.read_text() == f"x;touch${{IFS}}{marker}\n"
    assert not marker.exists()


def test_the_program_runs_as_the_check_user_unless_root_opted_in(notify_dir):
    prog = script(notify_dir, "id -u >&2; exit 3\n")
    channel = ProgramChannel(prog, timeout=5, policy=policy(notify_dir, False))
    with pytest.raises(DeliveryError) as refused:
        channel.deliver(Message((), "lvs1", test=True))
    nobody = check_programs.pwd.getpwnam("nobody").pw_uid
    assert str(refused.value) == f"ran 1 time, 1 failed: {prog} exited with status 3: {nobody}"


def test_a_program_outside_the_designated_directories_is_refused(notify_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere.sh"
    elsewhere.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(elsewhere, 0o755)
    channel = ProgramChannel(str(elsewhere), policy=policy(notify_dir, True))
    with pytest.raises(DeliveryError, match="not in a check program directory"):
        channel.deliver(storm())


def test_a_program_that_hangs_is_killed_after_its_timeout(notify_dir):
    prog = script(notify_dir, "sleep 30\n")
    channel = ProgramChannel(prog, timeout=0.5, policy=policy(notify_dir, True))
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out after 0.5 s and was killed"):
        channel.deliver(storm())
    assert time.monotonic() - start < 5


def test_the_test_button_runs_the_program_with_type_test(notify_dir, tmp_path):
    out = tmp_path / "out"
    prog = script(notify_dir, f'echo "$@" > {out}\n')
    ProgramChannel(prog, policy=policy(notify_dir, True)).deliver(Message((), "lvs1", test=True))
    assert out.read_text() == "TEST lvs1 TEST\n"


def test_closing_the_notifier_ends_the_retries_and_counts_only_attempts_made(black_hole):
    channel = WebhookChannel(black_hole, timeout=0.2, retries=5, backoff=30)
    threading.Timer(0.5, channel.stop.set).start()
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out \(1 attempt\)"):
        channel.deliver(storm())
    assert time.monotonic() - start < 5


def test_one_failed_run_does_not_skip_the_other_changes(notify_dir, tmp_path):
    out = tmp_path / "out"
    prog = script(notify_dir, f'echo "$1" >> {out}\n[ "$1" = DIRECTOR ]\n')
    channel = ProgramChannel(prog, timeout=5, policy=policy(notify_dir, True))
    with pytest.raises(DeliveryError, match=r"^ran 2 times, 1 failed: .* exited with status 1$"):
        channel.deliver(storm())
    assert out.read_text() == "REALSERVER\nDIRECTOR\n"
