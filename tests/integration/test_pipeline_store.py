"""The pipeline's storage contract, on a real Postgres: atomic polls, dedup, leases, one outcome per job."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from leakwatch.db import pipeline as store
from leakwatch.models import Item


def item(ext: str, text: str, name: str = "p.txt") -> Item:
    return Item(external_id=ext, body=text.encode(), name=name, url=f"https://paste.example/{ext}")


RESULT = {"severity": 4, "score": 40.0, "staff": [{"ref": "s-aaaa", "kinds": ["name"], "confidence": 0.99,
                                                   "rank": "PC", "unit": "Custody", "sensitive": False,
                                                   "leaver": False}],
          "credentials": [], "reasons": ["1 staff member"], "parts": [], "rejections": []}


async def test_poll_stores_items_jobs_and_cursor_together_and_dedups(db_dsn):
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        new = await store.store_poll(conn, "paste", [item("a", "one"), item("b", "two")], {"since": 2})
        assert len(new) == 2
        again = await store.store_poll(conn, "paste", [item("b", "two"), item("c", "three")], {"since": 3})
        assert len(again) == 1, "a re-fetched item is stored once"
        assert await conn.fetchval("SELECT count(*) FROM match_jobs") == 3
        cursor, _ = await store.ensure_source(conn, "paste", "pastebin")
        assert cursor == {"since": 3}
        row = await conn.fetchrow("SELECT items, consecutive_failures, last_success_at FROM sources")
        assert row["items"] == 3 and row["consecutive_failures"] == 0 and row["last_success_at"] is not None
    finally:
        await conn.close()


async def test_a_failed_store_saves_neither_items_nor_cursor(db_dsn):
    """A crash (here: an error) between items and cursor leaves the old cursor: re-fetch, never loss."""
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        await store.store_poll(conn, "paste", [item("a", "one")], {"since": 1})
        bad = Item(external_id="c", body=None, name="p.txt")  # fails after "b" was inserted
        with pytest.raises(TypeError):
            await store.store_poll(conn, "paste", [item("b", "two"), bad], {"since": 9})
        assert await conn.fetchval("SELECT count(*) FROM documents") == 1
        cursor, _ = await store.ensure_source(conn, "paste", "pastebin")
        assert cursor == {"since": 1}
    finally:
        await conn.close()


async def test_nul_characters_from_a_hostile_upstream_are_stored_replaced_not_refused(db_dsn):
    """Postgres text and jsonb hold no NUL; a source that sends one must not be stuck on it."""
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        nul = Item(external_id="x\x00y", body=b"a\x00b", name="n\x00.txt", url="https://h.example/\x00")
        assert len(await store.store_poll(conn, "paste", [nul], {"last": "k\x00"})) == 1
        row = await conn.fetchrow("SELECT external_id, name, url FROM documents")
        assert row["external_id"] == "x\ufffdy" and row["name"] == "n\ufffd.txt" and "\x00" not in row["url"]
        cursor, _ = await store.ensure_source(conn, "paste", "pastebin")
        assert cursor == {"last": "k\ufffd"}
        [job] = await store.claim_jobs(conn, "w", 1, 30)
        assert job.body == b"a\x00b", "the body (bytea) is kept exactly"
    finally:
        await conn.close()


async def test_identical_content_from_two_sources_is_matched_once(db_dsn):
    conn = await asyncpg.connect(db_dsn)
    try:
        for name in ("paste", "gists"):
            await store.ensure_source(conn, name, name)
        await store.store_poll(conn, "paste", [item("a", "the same leak")], None)
        await store.store_poll(conn, "gists", [item("g1", "the same leak")], None)
        first = await store.claim_jobs(conn, "w1", 10, 30)
        assert len(first) == 1, "the second job waits while the first, same content, is running"
        await store.finish_job(conn, first[0], "w1", RESULT, severity=4)
        second = await store.claim_jobs(conn, "w1", 10, 30)
        assert len(second) == 1
        earlier = await store.earlier_result(conn, second[0])
        assert earlier is not None and earlier["severity"] == 4
        fid = await store.finish_job(conn, second[0], "w1", None, severity=earlier["severity"],
                                     duplicate_of_job=earlier["job_id"], duplicate_of_finding=earlier["finding_id"])
        rows = await conn.fetch("SELECT id, duplicate_of, document_id FROM findings ORDER BY id")
        assert len(rows) == 2 and rows[1]["duplicate_of"] == rows[0]["id"] and rows[1]["id"] == fid
        bodies = await conn.fetch("SELECT source, body IS NOT NULL AS kept FROM documents ORDER BY id")
        assert [b["kept"] for b in bodies] == [True, False], "evidence kept once, with the first finding"
    finally:
        await conn.close()


async def test_an_expired_lease_is_taken_over_and_the_first_worker_records_nothing(db_dsn):
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        await store.store_poll(conn, "paste", [item("a", "text")], None)
        [job] = await store.claim_jobs(conn, "slow", 5, 0.2)
        assert await store.claim_jobs(conn, "fast", 5, 30) == [], "a live lease is not taken"
        await asyncio.sleep(0.4)
        [again] = await store.claim_jobs(conn, "fast", 5, 30)
        assert again.id == job.id and again.attempts == 2
        with pytest.raises(store.LeaseLost):
            await store.finish_job(conn, job, "slow", RESULT, severity=4)
        assert await conn.fetchval("SELECT count(*) FROM findings") == 0, "the loser's finding is rolled back"
        await store.finish_job(conn, again, "fast", RESULT, severity=4)
        assert await conn.fetchval("SELECT count(*) FROM findings") == 1
    finally:
        await conn.close()


async def test_no_finding_drops_the_body_and_failures_end_dead(db_dsn):
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        await store.store_poll(conn, "paste", [item("a", "nothing here"), item("b", "broken")], None)
        jobs = await store.claim_jobs(conn, "w", 5, 30)
        await store.finish_job(conn, jobs[0], "w", None, severity=0)
        assert await conn.fetchval("SELECT body FROM documents WHERE external_id = 'a'") is None
        assert await conn.fetchval("SELECT size FROM documents WHERE external_id = 'a'") == len("nothing here")
        job = jobs[1]
        for attempt in range(3):
            state = await store.fail_job(conn, job, "w", "matching failed: ValueError", max_attempts=3, delay=0)
            if state == "dead":
                break
            [job] = await store.claim_jobs(conn, "w", 5, 30)
        assert state == "dead" and job.attempts == 3
        stats = await store.queue_stats(conn)
        assert stats["dead"] == 1 and stats["depth"] == 0
        assert await conn.fetchval("SELECT body IS NOT NULL FROM documents WHERE external_id = 'b'"), \
            "a dead job keeps its body for the operator"
        assert await store.retry_dead(conn) == 1
        assert len(await store.claim_jobs(conn, "w", 5, 30)) == 1
    finally:
        await conn.close()


async def test_retention_drops_old_evidence_and_keeps_metadata(db_dsn):
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        await store.store_poll(conn, "paste", [item("a", "leak")], None)
        [job] = await store.claim_jobs(conn, "w", 5, 30)
        await store.finish_job(conn, job, "w", RESULT, severity=4)
        assert await store.expire_bodies(conn, 30) == 0
        await conn.execute("UPDATE documents SET fetched_at = now() - interval '31 days'")
        assert await store.expire_bodies(conn, 30) == 1
        row = await conn.fetchrow("SELECT body, url, content_hash FROM documents")
        assert row["body"] is None and row["url"] and row["content_hash"]
        assert await conn.fetchval("SELECT count(*) FROM findings") == 1
    finally:
        await conn.close()


async def test_source_locks_admit_one_holder_and_pass_on_when_it_goes(db_dsn):
    a, b = store.SourceLock(db_dsn), store.SourceLock(db_dsn)
    try:
        assert await a.try_acquire("paste")
        assert not await b.try_acquire("paste")
        assert await b.try_acquire("gists"), "locks are per source"
        a.conn.terminate()  # the holder's connection dies
        assert not await a.alive()
        for _ in range(100):  # the server ends the dead session (and frees its locks) in its own time
            if await b.try_acquire("paste"):
                break
            await asyncio.sleep(0.1)
        assert "paste" in b.held
    finally:
        await a.release_all()
        await b.release_all()


async def test_rejections_are_kept_for_documents_without_findings(db_dsn):
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        await store.store_poll(conn, "paste", [item("a", "PK bomb")], None)
        [job] = await store.claim_jobs(conn, "w", 1, 30)
        await store.finish_job(conn, job, "w", None, severity=0,
                               rejections=["a.zip: decompressed size over the 512 MB limit"])
        got = await conn.fetchval("SELECT rejections FROM match_jobs WHERE id = $1", job.id)
        assert json.loads(got) == ["a.zip: decompressed size over the 512 MB limit"]
    finally:
        await conn.close()


async def test_an_outcome_from_before_a_roster_import_is_not_reused(db_dsn):
    """Identical content is matched again once the roster changed: the old verdict may be stale."""
    conn = await asyncpg.connect(db_dsn)
    try:
        await store.ensure_source(conn, "paste", "pastebin")
        await store.store_poll(conn, "paste", [item("a", "same text")], None)
        [first] = await store.claim_jobs(conn, "w", 1, 30)
        await store.finish_job(conn, first, "w", None, severity=0)
        await conn.execute("INSERT INTO roster_imports (replace, enrolled, updated, unchanged, deactivated, "
                           "rejected, entries) VALUES (true, 1, 0, 0, 0, 0, '{}')")
        await store.store_poll(conn, "paste", [item("b", "same text")], None)
        [second] = await store.claim_jobs(conn, "w", 1, 30)
        assert await store.earlier_result(conn, second) is None
    finally:
        await conn.close()
