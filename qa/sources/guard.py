"""Refuse links to private, loopback, link-local and cloud-metadata addresses before any connection is made."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

from qa.errors import FetchRefusedError, HostNotFoundError

Resolver = Callable[[str], Iterable[str]]
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})


def resolve_addresses(host: str) -> list[str]:
    """Every address a host name resolves to."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise HostNotFoundError(f"{host}: the name does not resolve ({error.strerror})") from error
    return sorted({str(info[4][0]) for info in found})


def is_public(address: str) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local, reserved or multicast)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


class AddressGuard:
    """Checks a URL's scheme and every address its host resolves to; hosts on the allow-list pass as they are."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = resolve_addresses) -> None:
        self.allow_hosts = frozenset(host.strip().lower() for host in allow_hosts if host.strip())
        self._resolve = resolver

    def check(self, url: httpx.URL) -> None:
        """Raise FetchRefusedError unless the URL is http(s) to a public host or to an allowed one."""
        if url.scheme not in ("http", "https"):
            raise FetchRefusedError(f"{url}: only http and https links are fetched, not {url.scheme or 'no scheme'}")
        host = (url.host or "").lower()
        if not host:
            raise FetchRefusedError(f"{url}: the link has no host")
        if host in self.allow_hosts:
            return
        if host in _METADATA_HOSTS:
            raise FetchRefusedError(f"{url}: {host} is a cloud metadata service; add it to QA_FETCH_ALLOW_HOSTS to fetch it")
        blocked = [address for address in _addresses(host, self._resolve) if not is_public(address)]
        if blocked:
            raise FetchRefusedError(
                f"{url}: {host} is a private, loopback, link-local or metadata address ({', '.join(blocked)}); "
                "add the host to QA_FETCH_ALLOW_HOSTS to fetch it"
            )


def _addresses(host: str, resolve: Resolver) -> list[str]:
    """A literal address as itself, a name as what it resolves to."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return list(resolve(host))


class GuardedTransport(httpx.BaseTransport):
    """A transport that asks the guard about every request before handing it to the one that connects."""

    def __init__(self, guard: AddressGuard, inner: httpx.BaseTransport) -> None:
        self.guard = guard
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check, then send."""
        self.guard.check(request.url)
        return self.inner.handle_request(request)

    def close(self) -> None:
        """Close the connecting transport."""
        self.inner.close()
