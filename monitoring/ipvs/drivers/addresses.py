"""The host side of a virtual server: its VIP addresses over rtnetlink, ip_forward, and the
gratuitous ARP that tells the segment a VIP has moved here.

Addresses go through pyroute2's IPRoute, which does rtnetlink well (unlike its IPVS API, see
netlink.py). This is the only module that imports pyroute2, and only when an address is first
touched: it is loaded only by the worker and applylvs through the netlink driver, never by the web
process.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import threading
import time

from monitoring.ipvs.drivers.base import DriverError, KernelAddress

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def ip_forward() -> bool:
    with open(IP_FORWARD) as handle:
        return handle.read().strip() == "1"


def set_ip_forward(on: bool) -> None:
    with open(IP_FORWARD, "w") as handle:
        handle.write("1\n" if on else "0\n")


def _conf(device: str, name: str) -> str:
    if not device or "/" in device or device in (".", "..") or "/" in name:
        raise DriverError(f"no such network device sysctl: {device} {name}", errno.ENODEV)
    return f"/proc/sys/net/ipv4/conf/{device}/{name}"


def interface_sysctl(device: str, name: str) -> str:
    """net.ipv4.conf.DEVICE.NAME of this process's network namespace."""
    try:
        with open(_conf(device, name)) as handle:
            return handle.read().strip()
    except OSError as exc:
        raise DriverError(f"cannot read net.ipv4.conf.{device}.{name}: {exc.strerror}") from None


def set_interface_sysctl(device: str, name: str, value: str) -> None:
    try:
        with open(_conf(device, name), "w") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        raise DriverError(f"cannot set net.ipv4.conf.{device}.{name}: {exc.strerror}") from None


class Addresses:
    """The host's addresses through one rtnetlink socket (opened on first use)."""

    def __init__(self) -> None:
        self._iproute = None

    def close(self) -> None:
        if self._iproute is not None:
            self._iproute.close()

    @property
    def iproute(self):
        if self._iproute is None:
            from pyroute2 import IPRoute

            self._iproute = IPRoute()
        return self._iproute

    def _index(self, device: str) -> int:
        found = self.iproute.link_lookup(ifname=device)
        if not found:
            raise DriverError(f"network device {device} does not exist", errno.ENODEV)
        return found[0]

    def addresses(self) -> list[KernelAddress]:
        result = []
        for msg in self.iproute.get_addr():
            index = msg["index"]
            result.append(
                KernelAddress(
                    msg.get_attr("IFA_ADDRESS"),
                    msg["prefixlen"],
                    self._name(index),
                    msg.get_attr("IFA_LABEL") or self._name(index),
                )
            )
        return result

    def _name(self, index: int) -> str:
        links = self.iproute.get_links(index)
        return links[0].get_attr("IFLA_IFNAME") if links else str(index)

    def route_device(self, address: str) -> str:
        """The device the kernel sends a packet to `address` by (`ip route get ADDRESS`)."""
        try:
            routes = self.iproute.route("get", dst=address)
        except Exception as exc:
            code = getattr(exc, "code", 0)
            why = os.strerror(code) if code else str(exc)
            raise DriverError(f"no route to {address}: {why}", code) from None
        index = routes[0].get_attr("RTA_OIF") if routes else None
        if index is None:
            raise DriverError(f"no route to {address}")
        return self._name(index)

    def add_address(self, address: str, prefixlen: int, device: str, label: str) -> None:
        kwargs = {"index": self._index(device), "address": address, "prefixlen": prefixlen}
        if ipaddress.ip_address(address).version == 4 and label and label != device:
            kwargs["label"] = label
        try:
            self.iproute.addr("add", **kwargs)
        except Exception as exc:  # pyroute2 raises NetlinkError(code, message)
            code = getattr(exc, "code", 0)
            if code == errno.EEXIST:
                return
            raise DriverError(
                f"cannot add {address}/{prefixlen} on {label}: {os.strerror(code) if code else exc}",
                code,
            ) from None

    def remove_address(self, address: str, prefixlen: int, device: str) -> None:
        try:
            self.iproute.addr(
                "del", index=self._index(device), address=address, prefixlen=prefixlen
            )
        except DriverError:
            return
        except Exception as exc:
            code = getattr(exc, "code", 0)
            if code == errno.EADDRNOTAVAIL:
                return
            raise DriverError(
                f"cannot remove {address}/{prefixlen} from {device}: {exc}", code
            ) from None

    def gratuitous_arp(
        self, address: str, device: str, count: int = 5, interval: float = 1.0
    ) -> threading.Thread | None:
        """Announce `address` on `device` as pulse's send_arp did (5 times, 1 s apart), in a
        background thread so that an apply never waits for the announcements."""
        if ipaddress.ip_address(address).version != 4:
            return None
        try:
            index = self._index(device)
            link = self.iproute.get_links(index)[0]
            mac = bytes.fromhex(link.get_attr("IFLA_ADDRESS").replace(":", ""))
        except Exception:
            return None
        ip = ipaddress.IPv4Address(address).packed
        # Ethernet broadcast + ARP request "who-has VIP tell VIP" (gratuitous).
        frame = (
            b"\xff" * 6
            + mac
            + b"\x08\x06"
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
            + mac
            + ip
            + b"\x00" * 6
            + ip
        )

        def announce() -> None:
            try:
                with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
                    raw.bind((device.split(":", 1)[0], 0x0806))
                    for i in range(count):
                        raw.send(frame)
                        if i + 1 < count:
                            time.sleep(interval)
            except OSError:
                pass

        thread = threading.Thread(target=announce, name=f"garp-{address}", daemon=True)
        thread.start()
        return thread
