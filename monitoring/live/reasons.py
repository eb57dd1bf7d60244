"""A health check's reason in the reader's language.

The worker records reasons in English (as nanny logged them: the metrics, the notifications and
the API carry them as recorded); the live table shows the ones lvsadmin words itself in the
reader's language. What comes from elsewhere (an OS error's text, a MySQL server's message, a
reply's bytes, a program's name) is kept as it is inside the translated sentence, and a reason
not known here is shown as recorded."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from virtualservers.i18n import Wording

# Whole reasons.
PHRASES = [
    text
    for text in (
        gettext_noop("connection refused"),
        gettext_noop("connection closed"),
        gettext_noop("unknown host"),
        gettext_noop("the server closed the connection without a reply"),
        gettext_noop("a UDP check needs an expect string (a reply to wait for)"),
        gettext_noop("the sending program is empty"),
        # The OS's words for the usual network failures (os.strerror, English in the worker).
        gettext_noop("No route to host"),
        gettext_noop("Network is unreachable"),
        gettext_noop("Connection reset by peer"),
        gettext_noop("Connection timed out"),
        gettext_noop("Host is down"),
    )
]
_SECONDS = r"(?P<seconds>[0-9.e+-]+)"
# Reasons with values in them, as monitoring/checks words them.
PATTERNS = [
    (rf"^timed out after {_SECONDS} s$", gettext_noop("timed out after %(seconds)s s")),
    (
        rf"^connect timed out after {_SECONDS} s$",
        gettext_noop("connect timed out after %(seconds)s s"),
    ),
    (
        rf"^no reply: timed out after {_SECONDS} s$",
        gettext_noop("no reply: timed out after %(seconds)s s"),
    ),
    (
        rf"^no UDP reply: timed out after {_SECONDS} s$",
        gettext_noop("no UDP reply: timed out after %(seconds)s s"),
    ),
    (
        r"^HTTP status (?P<status>\d+), expected (?P<expected>\S+)$",
        gettext_noop("HTTP status %(status)s, expected %(expected)s"),
    ),
    (
        r"^HTTP status (?P<status>\d+), but the body does not contain (?P<text>.*)$",
        gettext_noop("HTTP status %(status)s, but the body does not contain %(text)s"),
    ),
    (
        r"^HTTP status (?P<status>\d+), but the body does not match (?P<text>.*)$",
        gettext_noop("HTTP status %(status)s, but the body does not match %(text)s"),
    ),
    (r"^not an HTTP reply: (?P<reply>.*)$", gettext_noop("not an HTTP reply: %(reply)s")),
    (
        r"^expected (?P<expected>.*), got (?P<got>.*)$",
        gettext_noop("expected %(expected)s, got %(got)s"),
    ),
    (
        r"^access denied for user (?P<user>'.*')$",
        gettext_noop("access denied for user %(user)s"),
    ),
    (r"^MySQL query failed: (?P<error>.*)$", gettext_noop("MySQL query failed: %(error)s")),
    (r"^check failed: (?P<error>.*)$", gettext_noop("check failed: %(error)s")),
    (r"^TLS handshake failed: (?P<error>.*)$", gettext_noop("TLS handshake failed: %(error)s")),
    (
        r"^certificate not accepted: (?P<error>.*)$",
        gettext_noop("certificate not accepted: %(error)s"),
    ),
    (r"^TLS error: (?P<error>.*)$", gettext_noop("TLS error: %(error)s")),
    (
        r"^cannot load the CA file (?P<path>'.*'): (?P<error>.*)$",
        gettext_noop("cannot load the CA file %(path)s: %(error)s"),
    ),
    (
        r"^(?P<program>\S+) timed out after " + _SECONDS + r" s and was killed$",
        gettext_noop("%(program)s timed out after %(seconds)s s and was killed"),
    ),
    (
        r"^(?P<program>\S+) was killed by signal (?P<signal>\d+)$",
        gettext_noop("%(program)s was killed by signal %(signal)s"),
    ),
    (
        r"^(?P<program>\S+) exited with status (?P<status>-?\d+)$",
        gettext_noop("%(program)s exited with status %(status)s"),
    ),
    (
        r"^cannot run (?P<program>\S+): (?P<error>.*)$",
        gettext_noop("cannot run %(program)s: %(error)s"),
    ),
]
CHECK_REASONS = Wording(PHRASES, PATTERNS)


def shown_reason(reason: str) -> str:
    """`reason` in the active language when lvsadmin worded it, else as recorded."""
    return CHECK_REASONS.shown(reason)
