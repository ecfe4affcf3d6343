"""Where webhooks may go: no loopback, private, link-local, multicast or reserved addresses
unless a setting allows them. URLs are checked when an endpoint is saved, and every address
is checked again when a connection is made (a DNS name may resolve elsewhere later), by the
network backend the HTTP client connects through."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Policy:
    """Which addresses are allowed (``allow_private``, ``allowed_hosts``)."""

    def __init__(self, allow_private: bool, allowed_hosts: Iterable[str]) -> None:
        self.allow_private = allow_private
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed_hosts:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    @classmethod
    def of(cls, settings: Any) -> "Policy":
        return cls(settings.allow_private, settings.allowed_hosts)

    def allows(self, host: str, address: IPAddress) -> bool:
        if self.allow_private or host.lower().rstrip(".") in self.hosts:
            return True
        if any(address in network for network in self.networks):
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_global and not address.is_multicast


def parse(url: str) -> tuple[str, str, int] | str:
    """``(scheme, host, port)`` of an acceptable URL, or the reason it is not."""
    if not isinstance(url, str) or not url.strip() or len(url) > 2000:
        return "url must be an http(s) URL of at most 2000 characters"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "url must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"url is not valid: {exc}"
    if parts.scheme not in ("http", "https"):
        return "url must start with https:// (or http://)"
    if not parts.hostname:
        return "url needs a host"
    if parts.username or parts.password:
        return "url must not carry a user name or password"
    if parts.fragment:
        return "url must not have a #fragment"
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def check(url: str, policy: Policy) -> str | None:
    """Why ``url`` may not receive webhooks, or ``None``."""
    parsed = parse(url)
    if isinstance(parsed, str):
        return parsed
    _, host, port = parsed
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        return f"the host {host!r} does not resolve"
    refused = [a for a in addresses if not policy.allows(host, a)]
    if refused:
        return (
            f"{host} resolves to {refused[0]}, a loopback, private or reserved address; allow "
            "it with plugin_settings.webhooks.allowed_hosts"
        )
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, resolving the host itself so that the
    address checked is the address used (TLS still verifies the host name)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        allowed = [a for a in addresses if self.policy.allows(host, a)]
        if not allowed:
            raise httpcore.ConnectError(f"{host} resolves to a private or reserved address")
        error: Exception | None = None
        for address in allowed:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
