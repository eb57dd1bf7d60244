"""HTTP, HTTPS and TLS-handshake checks against real servers on loopback (http.server in a
thread, a self-signed certificate made by the openssl command for each test module)."""

import asyncio
import http.server
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from monitoring.checks.probes import CheckSpec, probe

CERT_NAME = "www.example.test"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, str | None]]  # method, path, Host, per server

    def _answer(self, with_body: bool) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Host")))
        routes = {
            "/": (200, b"<html>all good here</html>"),
            "/health": (200, b"status: ok, version 1.2.3"),
            "/missing": (404, b"not here"),
            "/moved": (301, b""),
            "/chunked": (200, None),
        }
        status, body = routes.get(self.path, (500, b"oops"))
        self.send_response(status)
        if body is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if with_body:
                for part in (b"first part, ", b"the ma", b"rker is here", b""):
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def do_POST(self) -> None:
        self._answer(True)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={CERT_NAME}",
            "-addext", f"subjectAltName=DNS:{CERT_NAME}",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _serve(tls: tuple[Path, Path] | None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen = []
    server.sni = []
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        context.sni_callback = lambda _sock, name, _ctx: server.sni.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server


@pytest.fixture
def web():
    server = _serve(None)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def secure_web(certificate):
    server = _serve(certificate)
    yield server
    server.shutdown()
    server.server_close()


def check(server, **fields):
    fields.setdefault("timeout", 3.0)
    spec = CheckSpec(**fields)
    return asyncio.run(probe("127.0.0.1", server.server_address[1], spec))


def test_http_check_passes_on_a_2xx_and_sends_method_path_and_host(web):
    result = check(web, kind="http", http_path="/health", http_host="www.example.test")
    assert result.ok, result.reason
    assert web.seen == [("GET", "/health", "www.example.test")]


def test_http_check_default_host_is_the_address_and_port(web):
    assert check(web, kind="http", http_method="HEAD").ok
    port = web.server_address[1]
    assert web.seen == [("HEAD", "/", f"127.0.0.1:{port}")]


def test_http_status_mismatch_fails_naming_the_status(web):
    result = check(web, kind="http", http_path="/missing")
    assert not result.ok
    assert result.reason == "HTTP status 404, expected 200-399"


def test_http_status_lists_and_ranges_are_honoured(web):
    assert check(web, kind="http", http_path="/missing", http_status="200,404").ok
    assert not check(web, kind="http", http_path="/moved", http_status="200-299").ok
    assert check(web, kind="http", http_path="/moved", http_status="200-299,301-302").ok


def test_http_body_substring_must_be_in_the_body(web):
    assert check(web, kind="http", http_path="/health", http_body="status: ok").ok
    result = check(web, kind="http", http_path="/health", http_body="status: degraded")
    assert not result.ok
    assert result.reason == "HTTP status 200, but the body does not contain 'status: degraded'"


def test_http_body_regex_uses_re2(web):
    good = r"version \d+\.\d+"
    assert check(web, kind="http", http_path="/health", http_body=good, http_body_regex=True).ok
    result = check(
        web, kind="http", http_path="/health", http_body=r"version 9\.", http_body_regex=True
    )
    assert not result.ok and "does not match" in result.reason
    bad = check(web, kind="http", http_path="/health", http_body=r"(a)\1", http_body_regex=True)
    assert not bad.ok and "body regex cannot be used" in bad.reason


def test_http_body_of_a_chunked_reply_is_read_across_chunks(web):
    assert check(web, kind="http", http_path="/chunked", http_body="the marker is here").ok


def test_http_check_on_a_closed_port_says_connection_refused(web):
    port = web.server_address[1]
    web.shutdown()
    web.server_close()
    spec = CheckSpec(kind="http", timeout=2.0)
    result = asyncio.run(probe("127.0.0.1", port, spec))
    assert not result.ok and result.reason == "connection refused"


def test_http_check_against_a_silent_server_times_out():
    async def go():
        async def silent(reader, writer):
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await probe("127.0.0.1", port, CheckSpec(kind="http", timeout=0.3))

    result = asyncio.run(go())
    assert not result.ok and result.reason == "timed out after 0.3 s"


def test_https_without_verification_accepts_a_self_signed_certificate(secure_web):
    result = check(secure_web, kind="https", http_path="/health", http_body="ok")
    assert result.ok, result.reason
    assert secure_web.sni == [None]  # no name to send: no SNI


def test_https_with_verification_refuses_a_certificate_nobody_vouches_for(secure_web):
    result = check(secure_web, kind="https", tls_verify=True, tls_sni=CERT_NAME)
    assert not result.ok
    assert result.reason.startswith("certificate not accepted: ")
    assert "self-signed" in result.reason or "self signed" in result.reason


def test_https_with_verification_against_its_ca_and_the_right_name_passes(secure_web, certificate):
    ca = str(certificate[0])
    assert check(secure_web, kind="https", tls_verify=True, tls_ca=ca, tls_sni=CERT_NAME).ok
    wrong = check(secure_web, kind="https", tls_verify=True, tls_ca=ca, tls_sni="other.test")
    assert not wrong.ok and "certificate not accepted" in wrong.reason


def test_https_sends_sni_and_the_host_header_the_server_sees(secure_web):
    assert check(secure_web, kind="https", http_host="www.example.test:8443").ok
    assert secure_web.sni == ["www.example.test"]
    assert secure_web.seen[0][2] == "www.example.test:8443"
    assert check(secure_web, kind="https", tls_sni="sni.example.test").ok
    assert secure_web.sni[-1] == "sni.example.test"


def test_tls_handshake_check_passes_and_sends_sni(secure_web):
    assert check(secure_web, kind="tls", tls_sni="svc.example.test").ok
    assert secure_web.sni == ["svc.example.test"]
    assert secure_web.seen == []  # a handshake only: no request


def test_tls_handshake_check_fails_against_plain_tcp(web):
    result = check(web, kind="tls")
    assert not result.ok
    assert result.reason.startswith(("TLS handshake failed", "TLS error", "timed out"))


def test_tls_handshake_with_verification_refuses_the_self_signed_certificate(secure_web):
    result = check(secure_web, kind="tls", tls_verify=True, tls_sni=CERT_NAME)
    assert not result.ok and "certificate not accepted" in result.reason


def test_a_control_character_in_the_path_fails_without_sending_anything(web):
    result = check(web, kind="http", http_path="/a\rb")
    assert not result.ok and "control character" in result.reason
    assert web.seen == []


def test_an_http_or_tls_check_is_never_handed_to_the_connect_scanner():
    from monitoring.worker.loop import is_plain_connect

    for kind in ("http", "https", "tls"):
        assert not is_plain_connect(CheckSpec(kind=kind))
    assert is_plain_connect(CheckSpec(kind="tcp")) and is_plain_connect(CheckSpec())
