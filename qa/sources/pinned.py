"""The connecting side of fetches: each connection goes to an address the guard checked when it was resolved (so a
name cannot resolve to a public address for the check and a private one for the connection), and every read and
write of one fetch shares one deadline (a server sending its headers or body a byte at a time stops there)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from qa.sources.guard import AddressGuard


class _Deadline(threading.local):
    """When the current thread's fetch must end (None: no deadline)."""

    at: float | None = None

    def remaining(self, timeout: float | None) -> float | None:
        """The timeout to use now: the operation's own, shortened to what is left; a timeout error when none is."""
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the fetch's deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads and writes respect the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read, within the deadline."""
        return self._inner.read(max_bytes, self._deadline.remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write, within the deadline."""
        self._inner.write(buffer, self._deadline.remaining(timeout))

    def close(self) -> None:
        """Close."""
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        """TLS (with the URL's host name, not the address), within the deadline."""
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.remaining(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        """As the underlying stream."""
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Resolves each host once, through the guard, and connects to those checked addresses only."""

    def __init__(self, guard: AddressGuard, inner: httpcore.NetworkBackend | None = None) -> None:
        self.guard = guard
        self._inner = inner or httpcore.SyncBackend()
        self._deadline = _Deadline()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Every connection, read and write of this thread inside the block ends within `seconds`."""
        self._deadline.at = time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline.at = None

    def expired(self) -> bool:
        """Whether this thread's deadline has passed."""
        return self._deadline.at is not None and time.monotonic() >= self._deadline.at

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first checked address that answers."""
        error: Exception | None = None
        for address in self.guard.addresses(host, port):
            try:
                stream = self._inner.connect_tcp(address, port, self._deadline.remaining(timeout), local_address, socket_options)
            except httpcore.ConnectError as failed:
                error = failed
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error or httpcore.ConnectError(f"{host}: no address to connect to")

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """Never: fetches use TCP."""
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        """Sleep."""
        self._inner.sleep(seconds)


def pinned_transport(backend: PinnedBackend) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through the pinned backend."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001 (httpx has no public way to set the network backend)
        ssl_context=httpx.create_ssl_context(), network_backend=backend
    )
    return transport
