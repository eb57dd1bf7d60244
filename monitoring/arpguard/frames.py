"""ARP probes and replies as bytes (RFC 826 over Ethernet; the probe's form is RFC 5227's).

A probe's sender address is 0.0.0.0: the question must not teach anyone's ARP cache that the
VIP lives at this director's MAC (which a real request would, on every host that hears it)."""

from __future__ import annotations

import ipaddress
import struct

BROADCAST = b"\xff" * 6
ETH_P_ARP = 0x0806
_ARP = struct.Struct("!HHBBH6s4s6s4s")  # htype ptype hlen plen op sha spa tha tpa
REQUEST, REPLY = 1, 2


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def mac_bytes(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def probe(source_mac: bytes, target: str) -> bytes:
    """An Ethernet frame asking who has `target` (an IPv4 address)."""
    header = BROADCAST + source_mac + struct.pack("!H", ETH_P_ARP)
    body = _ARP.pack(
        1,  # Ethernet
        0x0800,  # IPv4
        6,
        4,
        REQUEST,
        source_mac,
        b"\0\0\0\0",  # the probe's sender address: nobody learns anything from it
        b"\0" * 6,
        ipaddress.IPv4Address(target).packed,
    )
    return header + body


def reply_of(frame: bytes) -> tuple[str, str] | None:
    """(the address answered for, the MAC that answers) of an ARP reply frame; None for any
    other frame."""
    if len(frame) < 14 + _ARP.size or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    htype, ptype, hlen, plen, op, sha, spa, _tha, _tpa = _ARP.unpack_from(frame, 14)
    if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, REPLY):
        return None
    return str(ipaddress.IPv4Address(spa)), mac_text(sha)
