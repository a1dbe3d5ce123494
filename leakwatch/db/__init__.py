"""Postgres access: the one pool, named SQL blocks from `.sql` files, migrations.

Only this package imports asyncpg. SQL lives in `sql/*.sql` as named blocks
(`-- name --` on a line of its own, then the statement) and in numbered
`migrations/NNN_*.sql`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import asyncpg

from leakwatch.errors import ConfigError, SchemaError

_BLOCK = re.compile(r"^-- ([a-z_][a-z0-9_]*) --$", re.M)
MIGRATION_LOCK = "leakwatch.migrate"

# Errors after which the pool reconnects by itself: the caller backs off and tries again.
# InternalClientError is what asyncpg raises when the server drops the connection in the middle
# of a transaction ("cannot switch to state ...; another operation is in progress").
TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
             asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.InternalClientError,
             TimeoutError)


@cache
def queries() -> dict[str, str]:
    """Every named SQL block of every file in `leakwatch/db/sql`."""
    out: dict[str, str] = {}
    for item in sorted(resources.files(__package__).joinpath("sql").iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".sql"):
            continue
        parts = _BLOCK.split(item.read_text())
        for name, body in zip(parts[1::2], parts[2::2]):
            if name in out:
                raise RuntimeError(f"SQL block {name!r} defined twice")
            out[name] = body.strip()
    return out


def q(name: str) -> str:
    return queries()[name]


@cache
def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) in order."""
    out = []
    for item in resources.files(__package__).joinpath("migrations").iterdir():
        m = re.match(r"^(\d{3})_[a-z0-9_]+\.sql$", item.name)
        if m:
            out.append((int(m.group(1)), item.name, item.read_text()))
    out.sort()
    if [v for v, _, _ in out] != list(range(1, len(out) + 1)):
        raise RuntimeError("migrations must be numbered 001, 002, ... without gaps")
    return out


SCHEMA_VERSION = migrations()[-1][0]


async def connect(dsn: str, *, timeout: float = 15.0) -> asyncpg.Connection:
    """One connection (for commands that run and exit); a clear error when the server cannot be reached."""
    try:
        return await asyncpg.connect(dsn, timeout=timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConfigError(f"DATABASE_URL: cannot connect to Postgres ({type(exc).__name__}: {exc})") from None


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations under an advisory lock; returns the versions applied."""
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_version")}
        if done and max(done) > SCHEMA_VERSION:
            raise SchemaError(f"database schema is at version {max(done)}, newer than this leakwatch "
                              f"({SCHEMA_VERSION}); upgrade leakwatch")
        for version, name, sql in migrations():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)", version, name)
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", MIGRATION_LOCK)
    return applied


async def schema_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")


async def check_schema(conn: asyncpg.Connection) -> None:
    """Refuse to run against a schema behind or ahead of this code."""
    found = await schema_version(conn)
    if found < SCHEMA_VERSION:
        raise SchemaError(f"database schema is at version {found}, this leakwatch needs {SCHEMA_VERSION}: "
                          "run `leakwatch db migrate`")
    if found > SCHEMA_VERSION:
        raise SchemaError(f"database schema is at version {found}, newer than this leakwatch "
                          f"({SCHEMA_VERSION}); upgrade leakwatch")
