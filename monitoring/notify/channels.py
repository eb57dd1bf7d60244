"""Where a message goes: e-mail (through a sender the caller provides: Django's mail backend in
lvsadmin), a webhook (JSON POST), and a notify program in keepalived's style.

Every channel's deliver() blocks (a timeout bounds each whole attempt) and either returns a short
result for the "Send test message" page or raises DeliveryError with the reason. The notifier
calls them on threads of their own, never on the checks' event loop.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitoring.checks.programs import CHILD_ENV, ProgramPolicy, ProgramRefused, open_program
from monitoring.notify.events import Event, test_event
from monitoring.notify.message import Message

log = logging.getLogger("lvsadmin.notify")
USER_AGENT = "lvsadmin-notify/1"


class DeliveryError(Exception):
    """The channel could not deliver; the message says why (shown on the page, logged)."""


class Channel:
    name = "channel"

    def deliver(self, message: Message) -> str:
        raise NotImplementedError


# --- e-mail -------------------------------------------------------------------------------------

MailSender = Callable[[str, str, Sequence[str]], None]


@dataclass
class EmailChannel(Channel):
    recipients: tuple[str, ...]
    send: MailSender  # (subject, body, recipients); raises on failure
    name = "e-mail"

    def deliver(self, message: Message) -> str:
        try:
            self.send(message.subject(), message.body(), self.recipients)
        except Exception as exc:  # smtplib, socket and backend errors alike
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return f"sent to {', '.join(self.recipients)}"


# --- webhook ------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without the body: a failure, said plainly.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl}", headers, fp)


class _Deadline:
    """One webhook attempt's end, whatever the receiver does. A socket timeout counts per
    operation, so a receiver answering a byte every 2 s kept a 5 s timeout from ever firing (the
    channel was held 440 s in the probe). Here the connect gets what is left of the time, and at
    the end a timer shuts the connection down, which wakes any read or write blocked on it, TLS
    included (it shuts down a duplicate of the descriptor: the socket itself, whatever wraps it)."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.at - time.monotonic())

    def connect(self, address, timeout=None, source_address=None) -> socket.socket:
        """http.client's `_create_connection`, within the deadline."""
        sock = socket.create_connection(address, self.remaining(), source_address)
        with self._lock:
            self._watched.append(sock.dup())
            expired = self.expired
        if expired:
            self._shutdown()
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            watched = list(self._watched)
        for sock in watched:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed already

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            watched, self._watched = self._watched, []
        for sock in watched:
            sock.close()


def _bounded(deadline: _Deadline, base: type[http.client.HTTPConnection]):
    """urllib's connection class for `base`, connecting within `deadline`."""

    def make(host, **kwargs) -> http.client.HTTPConnection:
        connection = base(host, **kwargs)
        connection._create_connection = deadline.connect  # type: ignore[attr-defined]
        return connection

    return make


class _BoundedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(_bounded(self.deadline, http.client.HTTPConnection), req)


class _BoundedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        make = _bounded(self.deadline, http.client.HTTPSConnection)
        return self.do_open(make, req, context=self._context)


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    # No proxy from the worker's environment and no redirect: the URL typed on the page is the
    # one that gets the POST.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirect,
        _BoundedHTTPHandler(deadline),
        _BoundedHTTPSHandler(deadline),
    )


def check_webhook_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"the webhook URL must be http:// or https:// with a host: {url!r}")


@dataclass
class WebhookChannel(Channel):
    """POST the message's JSON payload; 2xx is success. A failure is retried `retries` times
    after `backoff`, 2 x backoff, 4 x backoff... seconds; a 4xx other than 429 is not retried
    (the request itself is wrong). `stop` cuts the waits short when the notifier closes."""

    url: str
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 1.0
    stop: threading.Event = field(default_factory=threading.Event)
    name = "webhook"

    def deliver(self, message: Message) -> str:
        check_webhook_url(self.url)
        body = json.dumps(message.payload()).encode()
        reason, made = "", 0
        for attempt in range(self.retries + 1):
            if attempt:
                if self.stop.wait(self.backoff * 2 ** (attempt - 1)):
                    break  # the notifier is closing: no more attempts
                log.info("webhook: retry %d of %d after %s", attempt, self.retries, reason)
            made += 1
            try:
                status = self._post(body)
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code} {exc.reason}"
                if 400 <= exc.code < 500 and exc.code != 429:
                    break
            except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
                reason = _network_reason(exc)
            else:
                return f"HTTP {status}" + (f" after {attempt} retries" if attempt else "")
        raise DeliveryError(f"{reason} ({made} attempt{'s' if made != 1 else ''})")

    def _post(self, body: bytes) -> int:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        deadline = _Deadline(self.timeout)
        try:
            with _opener(deadline).open(request, timeout=self.timeout) as response:
                response.read(65536)
                status = response.status
            if deadline.expired:  # a reply cut short reads as a short body, not an error
                raise TimeoutError("timed out")
            return status
        except TimeoutError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if deadline.expired:  # the connection was cut at the deadline: say so
                raise TimeoutError("timed out") from exc
            if isinstance(exc, http.client.HTTPException):
                raise ValueError(f"{type(exc).__name__}: {exc}") from exc  # a garbled answer
            raise
        finally:
            deadline.close()


def _network_reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        exc = inner
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# --- notify program -----------------------------------------------------------------------------


def program_argv(command: str, event: Event) -> list[str]:
    """keepalived's convention: the configured command (split on spaces, no shell), then TYPE,
    NAME and STATE."""
    return [*(t for t in command.split(" ") if t), str(event.type), event.name, event.state]


def program_env(event: Event, director: str) -> dict[str, str]:
    """The details beside argv, for scripts that would rather not parse JSON."""
    env = dict(CHILD_ENV)
    env.update(
        LVSADMIN_TYPE=str(event.type),
        LVSADMIN_NAME=event.name,
        LVSADMIN_STATE=event.state,
        LVSADMIN_PREVIOUS_STATE=event.previous,
        LVSADMIN_REASON=event.reason,
        LVSADMIN_AT=event.as_dict()["at"],  # type: ignore[arg-type]
        LVSADMIN_DIRECTOR=director,
    )
    if event.port is not None:
        env.update(
            LVSADMIN_VIRTUAL=event.virtual,
            LVSADMIN_ADDRESS=event.address,
            LVSADMIN_PORT=str(event.port),
        )
    return env


class _Refused(DeliveryError):
    """The program may not run at all (the check programs' policy said no)."""


@dataclass
class ProgramChannel(Channel):
    """Runs the program once per event, in order, as keepalived runs its notify scripts. The
    program obeys the check programs' policy (checks.programs): only from the directories root
    designates, opened once and executed by descriptor, as the check user unless root opted
    the directory in; no shell, a clean environment, `timeout` seconds then killed."""

    command: str
    timeout: float = 10.0
    policy: ProgramPolicy | None = None  # None: the one the worker configured
    name = "program"

    def deliver(self, message: Message) -> str:
        events = message.events or (_test_event(message),)
        failures = []
        for event in events:
            try:
                self._run(event, message.director)
            except _Refused as refused:  # every other run would be refused the same way
                raise DeliveryError(str(refused)) from None
            except DeliveryError as failed:  # one change's run failing does not skip the rest
                failures.append(str(failed))
        runs = f"ran {len(events)} time{'s' if len(events) != 1 else ''}"
        if failures:
            raise DeliveryError(f"{runs}, {len(failures)} failed: {failures[0]}")
        return f"{runs}, exit status 0"

    def _run(self, event: Event, director: str) -> None:
        argv = program_argv(self.command, event)
        if len(argv) == 3:
            raise _Refused("no program is configured")
        try:
            program = open_program(argv[0], self.policy)
        except ProgramRefused as refused:
            raise _Refused(str(refused)) from None
        stdin = json.dumps({"director": director, **event.as_dict()}).encode()
        try:
            process = subprocess.Popen(
                argv,
                executable=program.executable,
                pass_fds=(program.fd,),
                user=program.uid,
                group=program.gid,
                extra_groups=[] if program.uid is not None else None,
                env=program_env(event, director),
                cwd="/",
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                # Its own process group: a timeout kills whatever the script started too.
                start_new_session=True,
            )
        except OSError as exc:
            raise DeliveryError(f"cannot run {argv[0]}: {exc.strerror}") from None
        finally:
            program.close()
        try:
            _out, err = process.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise DeliveryError(
                f"{argv[0]} timed out after {self.timeout:g} s and was killed"
            ) from None
        result = subprocess.CompletedProcess(argv, process.returncode, None, err)
        if result.returncode != 0:
            said = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            how = (
                f"was killed by signal {-result.returncode}"
                if result.returncode < 0
                else f"exited with status {result.returncode}"
            )
            raise DeliveryError(f"{argv[0]} {how}" + (f": {said[0][:200]}" if said else ""))


def _test_event(message: Message) -> Event:
    """The test button's run: `prog TEST DIRECTOR TEST`, never a state a script acts on."""
    return test_event(message.director)
