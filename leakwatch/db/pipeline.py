"""Pipeline storage: documents in, match jobs claimed with leases, findings out.

Every function takes a connection (or the pool) and runs the named SQL of `sql/pipeline.sql`.
The transaction boundaries are the ones principle 3 asks for:

* `store_poll`: a source's items, their match jobs and the source's new cursor, in one
  transaction (a crash before it commits means a re-fetch; after it, nothing is lost);
* `finish_job`: the finding (if any) and the job's completion, in one transaction, guarded
  by the lease (a worker whose lease expired finishes nothing);
* `fail_job` / `release_jobs`: the job goes back, or dead after its last attempt.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from leakwatch.db import TRANSIENT, q  # TRANSIENT re-exported: the roles catch store.TRANSIENT
from leakwatch.db.locks import AdvisoryLocks
from leakwatch.models import Item


JOBS_CHANNEL = "leakwatch_jobs"


async def listen_jobs(dsn: str, wake) -> asyncpg.Connection:
    """A dedicated connection that calls `wake()` whenever new jobs are committed."""
    conn = await asyncpg.connect(dsn, timeout=10)
    await conn.add_listener(JOBS_CHANNEL, lambda *_: wake())
    return conn


def compress(body: bytes) -> bytes:
    return zlib.compress(body, 6)


def decompress(blob: bytes) -> bytes:
    return zlib.decompress(blob)


def content_hash(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


async def ensure_source(conn, name: str, kind: str) -> tuple[dict | None, datetime | None]:
    """Register a source; returns its saved cursor and the time until which it is paused."""
    row = await conn.fetchrow(q("ensure_source"), name, kind)
    cursor = json.loads(row["cursor"]) if row["cursor"] is not None else None
    return cursor, row["paused_until"]


def _text(value: str | None, limit: int) -> str | None:
    """Postgres text holds no NUL: a hostile upstream's NUL becomes U+FFFD instead of failing the poll."""
    if value is None:
        return None
    return value.replace("\x00", "\ufffd")[:limit]


def _json(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value).replace("\\u0000", "\\ufffd")  # jsonb refuses \u0000 too


async def store_poll(conn, source: str, items: list[Item], cursor: dict | None,
                     wait: float | None = None) -> list[int]:
    """Store new items with their jobs and save the cursor, atomically. Returns new document ids."""
    new: list[int] = []
    async with conn.transaction():
        for item in items:
            body = item.body
            h = content_hash(body)
            doc_id = await conn.fetchval(q("insert_document"), source, _text(item.external_id, 1000),
                                         _text(item.url, 4000), _text(item.name, 255) or "item", item.published,
                                         h, len(body), compress(body))
            if doc_id is None:
                continue  # already stored (a re-fetch after a crash, or an unchanged item)
            await conn.execute(q("insert_job"), doc_id, h)
            new.append(doc_id)
        await conn.execute(q("source_stored"), source, _json(cursor), len(new), wait)
        if new:
            await conn.execute("SELECT pg_notify($1, '')", JOBS_CHANNEL)  # delivered at commit
    return new


async def source_failed(conn, source: str, message: str, wait: float | None) -> int:
    """Record a failed poll; returns the number of consecutive failures."""
    return await conn.fetchval(q("source_failed"), source, _text(message, 500), wait)


async def source_health(conn) -> list[dict]:
    return [dict(r) for r in await conn.fetch(q("source_health"))]


@dataclass(slots=True)
class Job:
    id: int
    document_id: int
    content_hash: bytes
    attempts: int
    source: str = ""
    name: str = ""
    url: str | None = None
    body: bytes | None = None  # decompressed
    fetched_at: datetime | None = None


async def claim_jobs(conn, owner: str, limit: int, lease: float) -> list[Job]:
    """Claim up to `limit` jobs (FOR UPDATE SKIP LOCKED) with a lease of `lease` seconds."""
    async with conn.transaction():
        rows = await conn.fetch(q("claim_jobs"), owner, limit, float(lease))
    jobs = [Job(r["id"], r["document_id"], bytes(r["content_hash"]), r["attempts"]) for r in rows]
    if jobs:
        docs = {r["id"]: r for r in await conn.fetch(q("job_inputs"), [j.document_id for j in jobs])}
        for j in jobs:
            d = docs[j.document_id]
            j.source, j.name, j.url, j.fetched_at = d["source"], d["name"], d["url"], d["fetched_at"]
            j.body = decompress(d["body"]) if d["body"] is not None else None
    return jobs


async def earlier_result(conn, job: Job):
    """The result of an earlier job on identical content, or None."""
    return await conn.fetchrow(q("earlier_result"), job.content_hash, job.id)


async def extend_leases(conn, owner: str, ids: list[int], lease: float) -> None:
    await conn.execute(q("extend_leases"), owner, ids, float(lease))


class LeaseLost(Exception):
    """The job's lease expired and another worker took it: this result is not recorded."""


async def finish_job(conn, job: Job, owner: str, result: dict | None, *, severity: int,
                     duplicate_of_job: int | None = None, duplicate_of_finding: int | None = None,
                     on_finding=None, rejections: list[str] | None = None,
                     roster_version: int = 0) -> int | None:
    """Record the outcome in one transaction: the finding (if any), the job done, the body dropped
    when there is no finding. Returns the finding id. Raises LeaseLost if the lease was lost.

    `on_finding(conn, finding_id)` runs inside the same transaction (the alerts stage hooks here).
    """
    async with conn.transaction():
        done = await conn.fetchval(q("finish_job"), job.id, owner, severity, duplicate_of_job,
                                   _json(rejections[:20]) if rejections else None, roster_version)
        if done is None:
            raise LeaseLost(job.id)
        finding_id = None
        if duplicate_of_finding is not None:
            row = await conn.fetchrow(q("copy_finding"), job.id, job.document_id, duplicate_of_finding)
            finding_id = row["id"]
        elif result is not None:
            row = await conn.fetchrow(
                q("insert_finding"), job.id, job.document_id, result["severity"], result["score"],
                len(result["staff"]), json.dumps(result["staff"]), json.dumps(result["credentials"]),
                json.dumps(result["reasons"]), json.dumps(result["parts"]), json.dumps(result["rejections"]), None)
            finding_id = row["id"]
        if finding_id is None or duplicate_of_finding is not None:
            await conn.execute(q("drop_body"), job.document_id)
        if finding_id is not None and on_finding is not None:
            await on_finding(conn, finding_id)
    return finding_id


async def fail_job(conn, job: Job, owner: str, error: str, *, max_attempts: int, delay: float) -> str | None:
    """Give the job back for a retry after `delay` seconds, or dead after `max_attempts`."""
    return await conn.fetchval(q("fail_job"), job.id, owner, error[:500], max_attempts, float(delay))


async def release_jobs(conn, owner: str, ids: list[int]) -> None:
    if ids:
        await conn.execute(q("release_jobs"), owner, ids)


async def queue_stats(conn) -> dict:
    row = await conn.fetchrow(q("queue_stats"))
    return {"depth": row["depth"], "running": row["running"], "dead": row["dead"],
            "oldest": float(row["oldest"]) if row["oldest"] is not None else 0.0}


async def retry_dead(conn) -> int:
    return len(await conn.fetch(q("retry_dead")))


async def expire_bodies(conn, retention_days: int, every: float = 0.0) -> int | None:
    """Drop evidence past retention, at most once per `every` seconds across all replicas;
    None when another replica did it within that time."""
    async with conn.transaction():
        if not await conn.fetchval(q("janitor_due"), float(every)):
            return None
        status = await conn.execute(q("expire_bodies"), retention_days)
    return int(status.split()[-1])


async def list_findings(conn, since: datetime, min_severity: int, limit: int) -> list[dict]:
    out = []
    for r in await conn.fetch(q("list_findings"), since, min_severity, limit):
        d = dict(r)
        for k in ("staff", "credentials", "reasons", "parts", "rejections"):
            d[k] = json.loads(d[k])
        out.append(d)
    return out


async def roster_version(conn) -> int:
    return await conn.fetchval(q("roster_version"))


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60,
                                     max_inactive_connection_lifetime=300)


class SourceLock(AdvisoryLocks):
    """Per-source singletons: the replica that holds a source's lock is the one that polls it.

    If the lock's connection drops, `alive()` tells the collector to stop polling and try to
    re-acquire.
    """

    def __init__(self, dsn: str):
        super().__init__(dsn, "leakwatch.source")
