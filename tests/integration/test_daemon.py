"""`leakwatch run` as users run it: a subprocess, a TOML file, a fake paste site on loopback, real Postgres."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import asyncpg
import pytest

from daemon import Daemon, enrol, leak_csv, metric, source_toml, wait_until
from fakes import serve
from fakes.pastebin import PastebinState, pastebin_app

pytestmark = pytest.mark.slow

BENIGN = "\n".join(f"2026-11-26T10:{i % 60:02d}:00Z INFO request served path=/api/items/{i} status=200 ms={i % 97}"
                   for i in range(200)) + "\n"


def children(pid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = open(f"/proc/{entry.name}/stat").read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry.name))
    return out


async def _none_alive(pids: list[int]) -> bool:
    return not any(os.path.exists(f"/proc/{p}") and "Z" not in open(f"/proc/{p}/stat").read().split(")")[1][:3]
                   for p in pids)


async def fetch_findings(conn):
    return await conn.fetch("SELECT f.id, f.severity, f.staff_count, f.duplicate_of, d.external_id "
                            "FROM findings f JOIN documents d ON d.id = f.document_id ORDER BY f.id")


async def test_run_catches_a_leak_serves_health_and_metrics_and_stops_on_sigterm(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path)
    state = PastebinState()
    async with serve(pastebin_app(state)) as base:
        d = Daemon(lw.env, tmp_path, source_toml("paste", base)).start()
        conn = await asyncpg.connect(db_dsn)
        try:
            await d.wait_ready()
            now = int(time.time())
            state.add("bg000001", now, BENIGN)
            state.add("leak0001", now + 1, leak_csv(rows, 20))
            found = await wait_until(lambda: fetch_findings(conn), 60, what="a finding")
            assert [(f["external_id"], f["severity"], f["staff_count"]) for f in found] == [("leak0001", 4, 20)]
            await wait_until(lambda: conn.fetchval("SELECT count(*) = 2 FROM match_jobs WHERE state = 'done'"),
                             30, what="both documents matched")
            assert await conn.fetchval("SELECT body IS NULL FROM documents WHERE external_id = 'bg000001'"), \
                "the body of a document without findings is dropped once matched"

            status, health = await d.get("/healthz")
            assert status == 200 and json.loads(health)["status"] == "ok"
            status, _ = await d.get("/readyz")
            assert status == 200
            status, text = await d.get("/metrics")
            assert status == 200
            assert metric(text, "leakwatch_documents_fetched_total", source="paste") == 2
            assert metric(text, "leakwatch_documents_matched_total", source="paste", outcome="critical") == 1
            assert metric(text, "leakwatch_documents_matched_total", source="paste", outcome="none") == 1
            assert metric(text, "leakwatch_match_seconds_count") == 2
            assert "leakwatch_queue_depth" in text and "leakwatch_fetch_to_finding_seconds_bucket" in text
            for r in rows[:20]:
                assert r.surname not in text and r.pay_number not in text

            listed = lw("findings", "--format", "jsonl", "--min-severity", "high")
            assert listed.code == 0, listed.err
            [f] = [json.loads(line) for line in listed.out.splitlines()]
            assert f["severity"] == "critical" and len(f["staff"]) == 20 and f["source"] == "paste"
            health = lw("sources", "--config", str(d.config), "--format", "json")
            assert health.code == 0, health.err
            [s] = json.loads(health.out)
            assert s["name"] == "paste" and s["status"] == "ok" and s["items"] == 2

            code, took = await d.stop()
            assert code == 0 and took < 25
            events = d.events()
            assert len(events) == len(d.lines()), "every line the daemon writes is a JSON object"
            assert {"started", "finding", "stopped"} <= {e["event"] for e in events}
        finally:
            await conn.close()
            if d.proc.poll() is None:
                d.kill()


async def test_kill_9_mid_batch_then_restart_matches_everything_once(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path, n=2000)
    state = PastebinState()
    now = int(time.time())
    leaks = {}
    for i in range(8):
        key = f"leak{i:04d}"
        leaks[key] = i
        # Big staff lists: each takes a while to match, so the kill lands mid-batch.
        state.add(key, now + 2 * i, leak_csv(rows, 150, offset=150 * i) * 4)
        state.add(f"bg{i:06d}", now + 2 * i + 1, BENIGN * 20)
    async with serve(pastebin_app(state)) as base:
        d = Daemon(lw.env, tmp_path, source_toml("paste", base), lease=2).start()
        conn = await asyncpg.connect(db_dsn)
        try:
            await wait_until(lambda: conn.fetchval("SELECT count(*) >= 2 FROM match_jobs WHERE state = 'done'"),
                             90, interval=0.05, what="some jobs done")
            running = await conn.fetchval("SELECT count(*) FROM match_jobs WHERE state <> 'done'")
            workers = children(d.proc.pid)
            d.kill()
            assert running > 0, "the kill came after everything was matched: the test proves nothing"
            assert workers, "the daemon had forked its match workers"
            await wait_until(lambda: _none_alive(workers), 20, what="the orphaned match workers to exit")
            d.start()
            await wait_until(lambda: conn.fetchval("SELECT count(*) = 16 FROM match_jobs WHERE state = 'done'"),
                             120, what="every document matched after the restart")
            found = await fetch_findings(conn)
            assert sorted(f["external_id"] for f in found) == sorted(leaks), "one finding per leak, none twice"
            assert all(f["severity"] == 4 for f in found)
            assert await conn.fetchval("SELECT count(*) FROM documents") == 16, "nothing fetched twice"
            code, _ = await d.stop()
            assert code == 0
        finally:
            await conn.close()
            if d.proc.poll() is None:
                d.kill()


async def test_two_daemons_share_the_work_without_doing_any_twice(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path, n=1200)
    state = PastebinState()
    async with serve(pastebin_app(state)) as base:
        sources = source_toml("paste", base)
        d1 = Daemon(lw.env, tmp_path, sources, name="d1").start()
        d2 = Daemon(lw.env, tmp_path, sources, name="d2").start()
        conn = await asyncpg.connect(db_dsn)
        try:
            await d1.wait_ready()
            await d2.wait_ready()
            now = int(time.time())
            for i in range(10):
                state.add(f"leak{i:04d}", now + i, leak_csv(rows, 100, offset=100 * i) * 3)
                state.add(f"bg{i:06d}", now + i, BENIGN * 10)
            await wait_until(lambda: conn.fetchval("SELECT count(*) = 20 FROM match_jobs WHERE state = 'done'"),
                             120, what="all matched")
            assert await conn.fetchval("SELECT max(attempts) FROM match_jobs") == 1, "no job was matched twice"
            assert len(await fetch_findings(conn)) == 10
            owners = await conn.fetch("SELECT DISTINCT lease_owner FROM match_jobs")  # cleared when done
            assert [o["lease_owner"] for o in owners] == [None]
            t1, t2 = (await d1.get("/metrics"))[1], (await d2.get("/metrics"))[1]
            m1 = metric(t1, "leakwatch_documents_matched_total")
            m2 = metric(t2, "leakwatch_documents_matched_total")
            assert m1 + m2 == 20 and m1 > 0 and m2 > 0, "both matched, none twice"
            p1 = metric(t1, "leakwatch_source_polls_total", source="paste")
            p2 = metric(t2, "leakwatch_source_polls_total", source="paste")
            assert (p1 > 0) != (p2 > 0), f"one replica polls the source (polls {p1}, {p2})"

            holder, other = (d1, d2) if p1 > 0 else (d2, d1)
            holder.kill()
            state.add("leakafter", int(time.time()) + 100, leak_csv(rows, 30, offset=1100))
            found = await wait_until(lambda: conn.fetchval(
                "SELECT count(*) FROM findings f JOIN documents d ON d.id = f.document_id "
                "WHERE d.external_id = 'leakafter'"), 60, what="the other replica to take the source over")
            assert found == 1
            assert (await other.stop())[0] == 0
        finally:
            await conn.close()
            for d in (d1, d2):
                if d.proc.poll() is None:
                    d.kill()
