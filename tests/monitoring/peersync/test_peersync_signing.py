"""The directors' channel: only the holder of the shared secret is believed, once, and in time."""

import pytest

from monitoring.peersync import signing

SECRET = b"s" * 40
OTHER = b"o" * 40
PATH = "/peer/revision"
NOW = 1_800_000_000.0


def signed(secret=SECRET, now=NOW, path=PATH, body=b""):
    return signing.sign_request(secret, "GET", path, now, body)


def verify(headers, now=NOW, path=PATH, body=b"", book=None, method="GET"):
    return signing.verify_request(
        SECRET, method, path, headers, body, now, book or signing.NonceBook()
    )


def test_a_request_signed_with_the_secret_is_accepted_and_returns_its_nonce():
    headers = signed()
    assert verify(headers) == headers[signing.NONCE]


def test_a_request_signed_with_another_secret_is_refused():
    with pytest.raises(signing.SignatureError, match="does not match"):
        verify(signed(secret=OTHER))


def test_the_same_request_is_answered_once():
    book = signing.NonceBook()
    headers = signed()
    verify(headers, book=book)
    with pytest.raises(signing.SignatureError, match="replayed"):
        verify(headers, now=NOW + 1, book=book)


def test_a_request_older_than_the_window_is_refused_as_replay_or_clock_skew():
    with pytest.raises(signing.SignatureError, match="clocks disagree"):
        verify(signed(now=NOW - signing.WINDOW_SECONDS - 1))


def test_a_clock_ahead_of_the_window_is_refused_too():
    with pytest.raises(signing.SignatureError, match="off this director"):
        verify(signed(now=NOW + 6))


def test_skew_within_the_window_is_accepted():
    verify(signed(now=NOW - 3))


def test_a_tampered_body_path_or_method_is_refused():
    headers = signed(body=b"serial 42")
    with pytest.raises(signing.SignatureError):
        verify(headers, body=b"serial 43")
    with pytest.raises(signing.SignatureError):
        verify(signed(), path="/apply/")
    with pytest.raises(signing.SignatureError):
        verify(signed(), method="POST")


def test_a_missing_header_is_named():
    headers = signed()
    del headers[signing.SIGNATURE]
    with pytest.raises(signing.SignatureError, match="X-Lvsadmin-Signature"):
        verify(headers)


def test_a_response_is_bound_to_the_request_it_answers():
    body = b'{"serial": 42}'
    answer = signing.sign_response(SECRET, "nonce-of-request-1", body, NOW)
    signing.verify_response(SECRET, "nonce-of-request-1", answer, body, NOW)
    with pytest.raises(signing.SignatureError):
        signing.verify_response(SECRET, "nonce-of-request-2", answer, body, NOW)


def test_a_response_altered_on_the_way_is_refused():
    body = b'{"serial": 42}'
    answer = signing.sign_response(SECRET, "n" * 32, body, NOW)
    with pytest.raises(signing.SignatureError):
        signing.verify_response(SECRET, "n" * 32, answer, b'{"serial": 43}', NOW)
    with pytest.raises(signing.SignatureError):
        signing.verify_response(OTHER, "n" * 32, answer, body, NOW)


def test_an_old_response_is_refused():
    body = b"{}"
    answer = signing.sign_response(SECRET, "n" * 32, body, NOW - 60)
    with pytest.raises(signing.SignatureError, match="clocks disagree"):
        signing.verify_response(SECRET, "n" * 32, answer, body, NOW)


def test_a_request_signature_cannot_pass_as_a_response():
    headers = signed()
    with pytest.raises(signing.SignatureError):
        signing.verify_response(SECRET, headers[signing.NONCE], headers, b"", NOW)


def test_the_secret_file_must_not_be_readable_by_others(tmp_path):
    path = tmp_path / "peer-secret"
    path.write_text("x" * 64 + "\n")
    path.chmod(0o644)
    with pytest.raises(signing.SecretError, match="chmod 0640"):
        signing.load_secret(path)
    path.chmod(0o640)
    assert signing.load_secret(path) == b"x" * 64


def test_a_short_or_missing_secret_is_refused(tmp_path):
    path = tmp_path / "peer-secret"
    with pytest.raises(signing.SecretError, match="does not exist"):
        signing.load_secret(path)
    path.write_text("short")
    path.chmod(0o600)
    with pytest.raises(signing.SecretError, match="fewer than 32"):
        signing.load_secret(path)
