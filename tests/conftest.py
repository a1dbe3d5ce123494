"""Shared fixtures: a real Postgres (never a mock), a template database per session, a fresh
database per test, and synthetic rosters.

The server: LEAKWATCH_TEST_DSN if set, else 127.0.0.1:5432 if it answers, else an
embedded server from the pgserver package in a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest


LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(dsn: str) -> bool:
    import asyncpg

    async def probe():
        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        return True
    except Exception:
        return False


def _admin_dsn(tmp_root: Path) -> str:
    if os.environ.get("LEAKWATCH_TEST_DSN"):
        return os.environ["LEAKWATCH_TEST_DSN"]
    if _answers(LOCAL_DSN):
        return LOCAL_DSN
    from leakwatch.db.embedded import embedded_dsn

    return embedded_dsn(tmp_root, "postgres")


def _with_db(dsn: str, name: str) -> str:
    """The same server DSN pointed at another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(dsn: str, *sql: str) -> None:
    import asyncpg

    async def go():
        conn = await asyncpg.connect(dsn)
        try:
            for s in sql:
                await conn.execute(s)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory) -> str:
    return _admin_dsn(tmp_path_factory.mktemp("pg"))


@pytest.fixture(scope="session")
def template_db(pg_admin) -> str:
    """A database with every migration applied, used as the template of each test's database."""
    import asyncpg

    from leakwatch.db import migrate

    name = f"lw_tpl_{os.getpid()}"
    _admin(pg_admin, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')

    async def go():
        conn = await asyncpg.connect(_with_db(pg_admin, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(go())
    yield name
    _admin(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_dsn(pg_admin, template_db) -> str:
    """A fresh migrated database of this test's own."""
    name = f"lw_t_{uuid.uuid4().hex[:12]}"
    _admin(pg_admin, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield _with_db(pg_admin, name)
    _admin(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_dsn(pg_admin) -> str:
    """A fresh database with no schema at all."""
    name = f"lw_e_{uuid.uuid4().hex[:12]}"
    _admin(pg_admin, f'CREATE DATABASE "{name}"')
    yield _with_db(pg_admin, name)
    _admin(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def key() -> bytes:
    return bytes(range(32))
