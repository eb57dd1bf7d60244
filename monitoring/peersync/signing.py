"""HMAC-SHA256 signatures for the channel between the two directors (Django-free).

Both directors hold the same secret (a file only root and the lvsadmin group read, never the
GUI password). A request is signed over its method, path, a timestamp, a random nonce and the
body's digest; the response is signed over the request's nonce, its own timestamp and the body's
digest, so an answer cannot be replayed to a later request nor made up by whoever sits between
the directors. The two kinds of signature start with different labels, so that one can never
stand for the other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

# Clocks of two directors kept by NTP agree within milliseconds; a few seconds leaves room for a
# slow answer without letting a captured request be replayed later.
WINDOW_SECONDS = 5.0
MIN_SECRET_LENGTH = 32

TIMESTAMP = "X-Lvsadmin-Timestamp"
NONCE = "X-Lvsadmin-Nonce"
SIGNATURE = "X-Lvsadmin-Signature"

_REQUEST = "lvsadmin-peer-request-v1"
_RESPONSE = "lvsadmin-peer-response-v1"


class SignatureError(Exception):
    """A signature is missing, wrong, too old or replayed; the message says which."""


class SecretError(Exception):
    """The shared secret cannot be used; the message says why and where."""


def load_secret(path: Path) -> bytes:
    """The shared secret from `path`, refusing a file others may read or write."""
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretError(
            f"{path} does not exist (see 'Configuration sync' in the README)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"{path} cannot be read: {exc}") from None
    if info.st_mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise SecretError(
            f"{path} is readable or writable by other users (mode {stat.S_IMODE(info.st_mode):o});"
            " chmod 0640 it"
        )
    if len(text) < MIN_SECRET_LENGTH:
        raise SecretError(f"{path} holds fewer than {MIN_SECRET_LENGTH} characters")
    return text.encode("utf-8")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _mac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\n".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def _check_time(stamp: str, now: float, window: float) -> None:
    try:
        when = float(stamp)
    except ValueError:
        raise SignatureError("the timestamp is not a number") from None
    if abs(now - when) > window:
        raise SignatureError(
            f"the timestamp is {now - when:+.1f} s off this director's clock (more than "
            f"{window:g} s: replayed, or the clocks disagree; check NTP)"
        )


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise SignatureError(f"the {name} header is missing")


def _compare(expected: str, given: str) -> None:
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureError("the signature does not match (a different secret, or altered)")


class NonceBook:
    """Nonces seen within the window: a request is accepted once."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def first_use(self, nonce: str, now: float) -> bool:
        with self.lock:
            for old, when in list(self.seen.items()):
                if now - when > 2 * self.window:
                    del self.seen[old]
            if nonce in self.seen:
                return False
            self.seen[nonce] = now
            return True


def sign_request(
    secret: bytes, method: str, path: str, now: float, body: bytes = b"", nonce: str = ""
) -> dict[str, str]:
    """The headers that authenticate a request."""
    nonce = nonce or secrets.token_hex(16)
    stamp = f"{now:.3f}"
    mac = _mac(secret, _REQUEST, method.upper(), path, stamp, nonce, body_digest(body))
    return {TIMESTAMP: stamp, NONCE: nonce, SIGNATURE: mac}


def verify_request(
    secret: bytes,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    nonces: NonceBook,
) -> str:
    """Check a request's signature; returns its nonce (the response is bound to it)."""
    stamp, nonce = _header(headers, TIMESTAMP), _header(headers, NONCE)
    given = _header(headers, SIGNATURE)
    _check_time(stamp, now, nonces.window)
    if not 16 <= len(nonce) <= 128:
        raise SignatureError("the nonce has a bad length")
    expected = _mac(secret, _REQUEST, method.upper(), path, stamp, nonce, body_digest(body))
    _compare(expected, given)
    if not nonces.first_use(nonce, now):
        raise SignatureError("this request was already answered (replayed)")
    return nonce


def sign_response(secret: bytes, nonce: str, body: bytes, now: float) -> dict[str, str]:
    stamp = f"{now:.3f}"
    return {
        TIMESTAMP: stamp,
        SIGNATURE: _mac(secret, _RESPONSE, nonce, stamp, body_digest(body)),
    }


def verify_response(
    secret: bytes,
    nonce: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    window: float = WINDOW_SECONDS,
) -> None:
    """Check that the answer comes from a holder of the secret, to this very request."""
    stamp, given = _header(headers, TIMESTAMP), _header(headers, SIGNATURE)
    _check_time(stamp, now, window)
    _compare(_mac(secret, _RESPONSE, nonce, stamp, body_digest(body)), given)
