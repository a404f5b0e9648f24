"""Refuse links to private, loopback, link-local and cloud-metadata addresses before any connection is made, and
connect only to the address that was checked (no DNS rebinding between the check and the connection)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

from qa.errors import FetchRefusedError, HostNotFoundError

Resolver = Callable[[str], Iterable[str]]
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def resolve_addresses(host: str) -> list[str]:
    """Every address a host name resolves to."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise HostNotFoundError(f"{host}: the name does not resolve ({error})") from error
    return sorted({str(info[4][0]) for info in found})


def is_public(address: str) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local, reserved or multicast),
    IPv4 addresses carried inside IPv6 (mapped, 6to4, Teredo) judged as themselves."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return is_public(str(embedded))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


class AddressGuard:
    """Decides which hosts may be reached: public addresses, and the hosts (or host:port pairs) on the allow-list."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = resolve_addresses) -> None:
        self.allow_hosts = frozenset(host.strip().lower().rstrip(".") for host in allow_hosts if host.strip())
        self._resolve = resolver

    def allows(self, host: str, port: int) -> bool:
        """Whether the host (or host:port) is on the allow-list."""
        host = host.lower().rstrip(".")
        return host in self.allow_hosts or f"{host}:{port}" in self.allow_hosts

    def check(self, url: httpx.URL) -> None:
        """Raise FetchRefusedError unless the URL is http(s) to a public host or to an allowed one."""
        if url.scheme not in ("http", "https"):
            raise FetchRefusedError(f"{url}: only http and https links are fetched, not {url.scheme or 'no scheme'}")
        if not url.host:
            raise FetchRefusedError(f"{url}: the link has no host")
        self.addresses(url.host, url.port or _DEFAULT_PORTS[url.scheme], shown=str(url))

    def addresses(self, host: str, port: int, shown: str = "") -> list[str]:
        """The addresses to connect to for host:port, every one checked (an allowed host's as they resolve)."""
        name = host.lower().rstrip(".")
        shown = shown or f"{host}:{port}"
        found = _addresses(name, self._resolve)
        if self.allows(name, port):
            return found
        if name in _METADATA_HOSTS:
            raise FetchRefusedError(f"{shown}: {name} is a cloud metadata service; add it to QA_FETCH_ALLOW_HOSTS to fetch it")
        blocked = [address for address in found if not is_public(address)]
        if blocked or not found:
            raise FetchRefusedError(
                f"{shown}: {name} is a private, loopback, link-local or metadata address ({', '.join(blocked)}); "
                "add the host to QA_FETCH_ALLOW_HOSTS to fetch it"
            )
        return found


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
