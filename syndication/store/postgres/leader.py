"""Push-delivery leadership among replicas: a session advisory lock on a connection of its own.

The server releases the lock when that connection ends (the process died, the network went,
an administrator terminated it); `held` turns false at once, so the deliverer stops and starts
competing again instead of delivering beside the new leader.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger("syndication.notify")


def lock_key(name: str) -> int:
    """The advisory lock key of the leadership `name` ("notify"): a signed 64-bit number from
    the name, as pg_advisory_lock takes; the store's migration and write locks are others."""
    digest = hashlib.blake2b(f"syndication leader {name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLeader:
    def __init__(self, dsn: str, name: str) -> None:
        self.dsn = dsn
        self.key = lock_key(name)
        self._conn: Any = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.dsn, timeout=10)
                self._conn.add_termination_listener(self._lost)
            self.held = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("delivery leadership: %s", exc)
            await self.release()
            return False
        return self.held

    def _lost(self, conn: Any) -> None:
        if self.held:
            log.warning("delivery leadership lost with its connection")
        self.held = False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        self.held = False
        if conn is not None:
            # Closing the session releases its advisory locks.
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
