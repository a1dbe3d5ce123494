"""Cluster-wide singletons: session advisory locks held on one dedicated connection.

A lock is named by (namespace, name) and taken with `pg_try_advisory_lock(hashtext(namespace),
hashtext(name))`. If the connection drops, every lock on it is gone with it: `alive()` says
so, and the holder stops until `try_acquire` takes the lock again on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from leakwatch.db import TRANSIENT


class AdvisoryLocks:
    """Session advisory locks in one namespace, on one connection of their own.

    Several tasks may share one instance: its queries run one at a time.
    """

    def __init__(self, dsn: str, namespace: str):
        self.dsn = dsn
        self.namespace = namespace
        self.conn: asyncpg.Connection | None = None
        self.held: set[str] = set()
        self._busy = asyncio.Lock()  # one connection, several tasks: one query at a time

    async def _connected(self, conn: asyncpg.Connection) -> None:
        """Called on each new connection, before any lock is taken on it (for subclasses)."""

    async def _connection(self) -> asyncpg.Connection:
        if self.conn is None or self.conn.is_closed():
            self.held.clear()
            self.conn = await asyncpg.connect(self.dsn, timeout=10)
            await self._connected(self.conn)
        return self.conn

    async def try_acquire(self, name: str) -> bool:
        """True when this instance holds lock `name` (taking it now if it is free)."""
        async with self._busy:
            if name in self.held and await self._alive():
                return True
            conn = await self._connection()
            got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                                      self.namespace, name, timeout=10)
            if got:
                self.held.add(name)
            return bool(got)

    async def alive(self) -> bool:
        """False when the connection, and with it every lock, is gone."""
        async with self._busy:
            return await self._alive()

    async def _alive(self) -> bool:
        if self.conn is None or self.conn.is_closed():
            self.held.clear()
            return False
        try:
            await self.conn.fetchval("SELECT 1", timeout=5)
            return True
        except TRANSIENT:
            self.held.clear()
            with contextlib.suppress(Exception):
                self.conn.terminate()
            self.conn = None
            return False

    async def release_all(self) -> None:
        """Release every lock and close the connection (the next `try_acquire` opens a new one)."""
        async with self._busy:
            if self.conn is not None and not self.conn.is_closed():
                try:
                    await self.conn.execute("SELECT pg_advisory_unlock_all()", timeout=5)
                    await self.conn.close(timeout=5)
                except TRANSIENT:
                    self.conn.terminate()
            self.conn = None
            self.held.clear()
