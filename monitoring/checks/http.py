"""HTTP, HTTPS and TLS-handshake checks, on asyncio streams and the standard ssl module.

The whole check (connect, handshake, request, reply) must finish within the virtual's service
timeout, as nanny's checks do. A reply is read only as far as the verdict needs: the status line
and headers, and up to BODY_LIMIT bytes of body when a body match is asked for. A body regex is
matched by RE2 (the send/expect machinery's compiler), in time linear in those bytes, so it runs
on the event loop. TLS contexts are built off the loop (loading CA files reads the disk) and kept.
"""

from __future__ import annotations

import asyncio
import functools
import ssl

from monitoring.checks.probes import (
    CheckSpec,
    _os_reason,
    _read_up_to,
    _timeout_reason,
    expect_regex,
    open_stream,
)
from virtualservers.lvsconf.paths import PathCheck
from virtualservers.lvsconf.schema import parse_statuses

# What a body match looks at: health pages are small, and a huge page must not cost memory.
BODY_LIMIT = 64 * 1024
HEADER_LIMIT = 16 * 1024
USER_AGENT = "lvsadmin-check"

_contexts: dict[tuple[bool, str], ssl.SSLContext] = {}


def _build_context(verify: bool, ca: str) -> ssl.SSLContext:
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca or None)


async def tls_context(verify: bool, ca: str) -> ssl.SSLContext:
    key = (verify, ca)
    context = _contexts.get(key)
    if context is None:
        context = await asyncio.to_thread(_build_context, verify, ca)
        _contexts[key] = context
    return context


@functools.lru_cache(maxsize=256)
def statuses(text: str) -> tuple[tuple[int, int], ...]:
    return parse_statuses(text)


def status_allowed(status: int, text: str) -> bool:
    return any(low <= status <= high for low, high in statuses(text))


def host_header(spec: CheckSpec, address: str, port: int) -> str:
    if spec.http_host:
        return spec.http_host
    host = f"[{address}]" if ":" in address else address
    default = 443 if spec.kind == "https" else 80
    return host if port == default else f"{host}:{port}"


def server_name(spec: CheckSpec, address: str) -> str | None:
    """The name sent as SNI and checked against the certificate: tls_sni, else the Host header's
    name, else (verification only) the address itself."""
    if spec.tls_sni:
        return spec.tls_sni
    if spec.http_host and spec.kind == "https":
        name = spec.http_host
        if name.startswith("["):
            return name[1 : name.find("]")] if "]" in name else name
        return name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return address if spec.tls_verify else None


def request_bytes(spec: CheckSpec, address: str, port: int) -> bytes:
    path, host = spec.http_path or "/", host_header(spec, address, port)
    for what, value in (("http_path", path), ("http_host", host)):
        if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
            raise ValueError(f"{what} {value!r} holds a blank or control character")
    lines = [
        f"{spec.http_method} {path} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Connection: close",
    ]
    if spec.http_method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def web_check(
    address: str, port: int, spec: CheckSpec, path: PathCheck | None = None
) -> tuple[bool, str]:
    """A `check = http`, `https` or `tls` of one real server (through the forwarding path with
    `path`: the same request, Host header and SNI name, sent to the VIP)."""
    try:
        request = request_bytes(spec, address, port) if spec.kind != "tls" else b""
    except ValueError as exc:
        return False, str(exc)
    context = None
    if spec.kind in ("https", "tls"):
        try:
            context = await tls_context(spec.tls_verify, spec.tls_ca)
        except (OSError, ssl.SSLError) as exc:
            return False, f"cannot load the CA file {spec.tls_ca!r}: {exc.strerror or exc}"
    writer = None
    try:
        async with asyncio.timeout(spec.timeout):
            try:
                reader, writer = await open_stream(
                    address,
                    port,
                    path,
                    ssl=context,
                    server_hostname=server_name(spec, address) if context else None,
                    ssl_handshake_timeout=spec.timeout if context else None,
                )
            except ssl.SSLCertVerificationError as exc:
                return False, f"certificate not accepted: {exc.verify_message}"
            except ssl.SSLError as exc:
                return False, f"TLS handshake failed: {exc.reason or exc}"
            if spec.kind == "tls":
                return True, ""
            writer.write(request)
            await writer.drain()
            return await _verdict(reader, spec)
    except TimeoutError:
        return False, _timeout_reason(spec)
    except ssl.SSLError as exc:
        return False, f"TLS error: {exc.reason or exc}"
    except OSError as exc:
        return False, _os_reason(exc)
    finally:
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1)
            except (OSError, TimeoutError, ssl.SSLError):
                pass


async def _verdict(reader: asyncio.StreamReader, spec: CheckSpec) -> tuple[bool, str]:
    status_line = await reader.readline()
    parts = status_line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        if not status_line:
            return False, "the server closed the connection without a reply"
        return False, f"not an HTTP reply: {status_line[:60].decode('latin-1')!r}"
    status = int(parts[1])
    if not status_allowed(status, spec.http_status):
        return False, f"HTTP status {status}, expected {spec.http_status}"
    if not spec.http_body or spec.http_method == "HEAD":
        return True, ""
    headers = await _headers(reader)
    body = await _body(reader, headers)
    text = body.decode("utf-8", "replace")
    if spec.http_body_regex:
        try:
            found = expect_regex(spec.http_body).search(text) is not None
        except ValueError as exc:
            return False, str(exc).replace("expect regex", "body regex")
    else:
        found = spec.http_body in text
    if found:
        return True, ""
    kind = "match" if spec.http_body_regex else "contain"
    return False, f"HTTP status {status}, but the body does not {kind} {spec.http_body!r}"


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    size = 0
    while True:
        line = await reader.readline()
        size += len(line)
        if line in (b"\r\n", b"\n", b"") or size > HEADER_LIMIT:
            return headers
        name, _colon, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _chunked(reader)
    length = headers.get("content-length", "")
    wanted = min(int(length), BODY_LIMIT) if length.isdigit() else BODY_LIMIT
    return await _read_up_to(reader, wanted, stop_early=False)


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while len(data) < BODY_LIMIT:
        size_line = (await reader.readline()).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            break
        if size == 0:
            break
        take = min(size, BODY_LIMIT - len(data))
        try:
            data += await reader.readexactly(take)
        except asyncio.IncompleteReadError as exc:
            return data + exc.partial
        if take < size:
            break
        await reader.readline()  # the CRLF after each chunk
    return data[:BODY_LIMIT]
