"""Where webhooks may go: public addresses only, unless a setting allows more.

A URL is checked when staff save it (every address its host resolves to), and
the address actually connected to is checked again on every send, so a name
that later resolves to 10.0.0.1 or 169.254.169.254 (DNS rebinding) still
reaches nothing private. Proxies from the environment are ignored for the
same reason.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apps.webhooks.exceptions import DestinationRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def private_destinations_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", False))


def address_is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a global unicast address (not private, loopback…)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def destination_check(url: str) -> None:
    """Refuse ``url`` unless it is http(s) to a host with only public addresses.

    Raise DestinationRefused otherwise (and when the host does not resolve).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DestinationRefused("Webhook URLs must be http or https with a host.")
    if private_destinations_allowed():
        return
    try:
        infos = socket.getaddrinfo(
            parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"{parts.hostname} does not resolve.") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address_is_public(ip):
            raise DestinationRefused(
                f"{parts.hostname} resolves to {ip}, a private, loopback or "
                "link-local address; webhooks go to public addresses only.",
                details={"address": str(ip)},
            )


class _PeerCheck:
    """Check the connected peer before a byte of the request is written."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]  # mixin
        if not private_destinations_allowed():
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
            if not address_is_public(peer):
                sock.close()
                raise DestinationRefused(
                    f"Connected to {peer}, which is not a public address."
                )
        return sock


class _HTTPConnection(_PeerCheck, HTTPConnection):
    pass


class _HTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _HTTPPool,
            "https": _HTTPSPool,
        }


def checked_session() -> requests.Session:
    """A session that refuses non-public peers and ignores proxy variables."""
    session = requests.Session()
    session.trust_env = False
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
