"""A small registry keeping one ``IVMClient`` per IVM, so commands to one IVM share one transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from .client import IVMClient


class ClientPool:
    """One client per key (e.g. the IVM's database id); idle clients are closed by ``close_idle``.

    ``get(key, factory)`` returns the existing client or builds one with ``factory()``. When an IVM's
    settings change (new pinned key, new password) call ``discard(key)`` so the next ``get`` rebuilds it.
    """

    def __init__(self, idle_s: float = 300.0):
        self.idle_s = idle_s
        self._clients: dict[Hashable, IVMClient] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, factory: Callable[[], IVMClient]) -> IVMClient:
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = factory()
            client.last_used = time.monotonic()
            return client

    def discard(self, key: Hashable) -> None:
        with self._lock:
            client = self._clients.pop(key, None)
        if client is not None:
            client.close()

    def close_idle(self, now: float | None = None) -> int:
        """Close the transports of clients unused for ``idle_s``; returns how many were closed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [c for c in self._clients.values() if c.connected and now - c.last_used >= self.idle_s]
        for client in idle:
            client.close()
        return len(idle)

    def close_all(self, wait_s: float = 5.0) -> None:
        """Close every client, each waiting up to ``wait_s`` for its transport's thread to end (before a fork, at
        shutdown)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close(wait_s=wait_s)

    def __len__(self) -> int:
        return len(self._clients)
