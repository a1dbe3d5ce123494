#!/usr/bin/env python3
"""End-to-end latency of the watcher, and the documents per second one match worker holds.

    python benchmarks/pipeline.py [--staff 47000] [--rate 50] [--seconds 60] [--interval 1]

1. Latency. A local replica of the Pastebin scraping API (real HTTP on loopback, the real
   wire format) publishes --rate items per second for --seconds; `leakwatch run` (a
   subprocess, as users run it) polls it every --interval seconds. For every item the
   latency is the time from its appearing on the replica to its outcome row: the match
   job's `done_at` for every document, the `findings.created_at` for those with a finding.
   Printed: p50, p90, p99, max, beside the poll interval (which alone adds up to one interval).
2. Match throughput. N documents are stored straight into the queue, then `leakwatch match`
   with one worker process drains it (and again with one per core); documents per second.
   Baseline, in this script: the same documents through the same Scanner in this process,
   no database, no queue: the ratio shows what the pipeline costs beyond matching itself.

Items are paste-like: 88 % background (logs, code, configs, prose, 1-30 KB), 10 % posts
about one officer, 2 % staff lists. The roster is synthetic (benchmarks/corpus.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, database, leakwatch_command, workspace

import corpus as C  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def make_items(ctx, rng: random.Random, n: int) -> list[tuple[bytes, bool]]:
    """(body, is_leak) paste-like items, each unique (identical content would be deduplicated)."""
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.02:
            doc, leak = C.gen_bulk_with_ids(ctx, rng), True
            if doc.fmt not in ("csv", "tsv", "md", "json", "sql", "html"):
                doc = C.Doc("csv", C.render_csv(*C.staff_table(rng, ctx.pick_staff(rng, 40), C.Damager(rng, ()),
                                                               ids=True)), [], "csv")
            body = doc.data
        elif r < 0.12:
            body, leak = C.gen_single_officer(ctx, rng).data, True
        else:
            _, text = C.background_text(ctx, rng, C.log_uniform(rng, 1_000, 30_000))
            body, leak = text.encode(), False
        out.append((f"# paste {i}\n".encode() + body, leak))
    return out


async def latency_phase(ws, items, args) -> dict:
    import asyncpg
    from aiohttp import web

    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.pastebin import PastebinState, pastebin_app

    state = PastebinState()
    appeared: dict[str, float] = {}
    app = pastebin_app(state)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    cfg = ws.dir / "pipeline.toml"
    cfg.write_text(f"""
[pipeline]
idle_poll = 0.5
[web]
listen = "127.0.0.1:0"
[[sources]]
kind = "pastebin"
name = "replica"
base_url = "{base}"
interval = {args.interval}
limit = 250
pace = 0
""")
    log = open(ws.dir / "daemon.log", "w")
    proc = subprocess.Popen([*ws.lw, "--config", str(cfg), "run"], env=ws.env, stdout=log, stderr=subprocess.STDOUT)
    conn = await asyncpg.connect(ws.env["DATABASE_URL"])
    try:
        for _ in range(600):
            if await conn.fetchval("SELECT count(*) FROM sources WHERE last_success_at IS NOT NULL"):
                break
            if proc.poll() is not None:
                raise SystemExit("daemon exited; see " + str(ws.dir / "daemon.log"))
            await asyncio.sleep(0.1)
        print(f"  daemon up; publishing {args.rate}/s for {args.seconds}s (poll interval {args.interval}s)", flush=True)
        t0 = time.time()
        n = int(args.rate * args.seconds)
        for i in range(n):
            due = t0 + i / args.rate
            await asyncio.sleep(max(0.0, due - time.time()))
            key = f"k{i:07d}"
            body, _ = items[i]
            state.add(key, int(time.time()), body.decode("utf-8", "replace"))
            appeared[key] = time.time()
        print(f"  published {n} items in {time.time() - t0:.1f}s; waiting for the queue to drain", flush=True)
        deadline = time.time() + 600
        while time.time() < deadline:
            done = await conn.fetchval("SELECT count(*) FROM match_jobs WHERE state = 'done'")
            if done >= n:
                break
            await asyncio.sleep(0.5)
        rows = await conn.fetch("SELECT d.external_id, extract(epoch FROM j.done_at) AS done, "
                                "extract(epoch FROM f.created_at) AS found, f.severity "
                                "FROM match_jobs j JOIN documents d ON d.id = j.document_id "
                                "LEFT JOIN findings f ON f.job_id = j.id")
    finally:
        await conn.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
        await runner.cleanup()
    done_lat = [float(r["done"]) - appeared[r["external_id"]] for r in rows if r["done"] is not None]
    found_lat = [float(r["found"]) - appeared[r["external_id"]] for r in rows if r["found"] is not None]
    pages = sum(1 for r in rows if r["severity"] is not None and r["severity"] >= 3)
    return {"items": len(appeared), "matched": len(done_lat), "findings": len(found_lat), "pages": pages,
            "done": done_lat, "found": found_lat}


async def fill_queue(dsn: str, items, tag: str) -> None:
    import asyncpg

    from leakwatch.db import pipeline as store
    from leakwatch.models import Item

    conn = await asyncpg.connect(dsn)
    try:
        await store.ensure_source(conn, tag, "bench")
        batch = [Item(external_id=f"{tag}-{i}", body=b + tag.encode(), name=f"{tag}-{i}.txt")
                 for i, (b, _) in enumerate(items)]
        for k in range(0, len(batch), 200):
            await store.store_poll(conn, tag, batch[k:k + 200], None)
    finally:
        await conn.close()


async def drain(ws, n: int, workers: int) -> float:
    import asyncpg

    cfg = ws.dir / f"match{workers}.toml"
    cfg.write_text(f"[pipeline]\nmatch_workers = {workers}\nbatch = 4\nidle_poll = 0.2\n[web]\nlisten = \"127.0.0.1:0\"\n")
    conn = await asyncpg.connect(ws.env["DATABASE_URL"])
    base = await conn.fetchval("SELECT count(*) FROM match_jobs WHERE state = 'done'")
    log = open(ws.dir / f"match{workers}.log", "w")
    proc = subprocess.Popen([*ws.lw, "--config", str(cfg), "match"], env=ws.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        start = None
        while True:
            done = await conn.fetchval("SELECT count(*) FROM match_jobs WHERE state = 'done'") - base
            if start is None and (done > 0 or await conn.fetchval(
                    "SELECT count(*) FROM match_jobs WHERE state = 'running'")):
                start = time.perf_counter()
            if done >= n:
                return time.perf_counter() - start
            if proc.poll() is not None:
                raise SystemExit(f"match exited {proc.returncode}")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()


def baseline(ws, items) -> float:
    """The same documents through the Scanner in this process: matching alone."""
    os.environ.update(ws.env)
    from leakwatch.cli import load_context, load_hasher
    from leakwatch.config import load_config
    from leakwatch.scan import Scanner, limits_from

    cfg = load_config(env=ws.env)
    ctx = asyncio.run(load_context(cfg, load_hasher(cfg)))
    scanner, limits = Scanner(ctx), limits_from(cfg)
    t0 = time.perf_counter()
    for i, (body, _) in enumerate(items):
        scanner.scan_bytes(body, f"b-{i}.txt", limits)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--staff", type=int, default=47000)
    p.add_argument("--rate", type=float, default=50.0, help="items per second published (default 50)")
    p.add_argument("--seconds", type=float, default=60.0, help="for how long (default 60)")
    p.add_argument("--interval", type=float, default=1.0, help="the source's poll interval (default 1 s)")
    p.add_argument("--docs", type=int, default=1500, help="documents for the match-throughput phase")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--phases", default="latency,throughput", help="which to run (default both)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    print(f"roster: {args.staff} synthetic staff; generating items", flush=True)
    roster = C.make_roster(rng, args.staff)
    ctx = C.Context.build(roster, C.people(rng, 2000), args.seed)
    n = int(args.rate * args.seconds)
    items = make_items(ctx, rng, n + 2 * args.docs)
    mb = sum(len(b) for b, _ in items[:n]) / 1e6
    with database() as dsn, workspace(dsn, lw=leakwatch_command(), force_domains=[C.FORCE.domain],
                                      force_names=list(C.FORCE.names)) as ws:
        roster_csv = ws.dir / "roster.csv"
        C.write_roster(roster_csv, roster)
        t = time.perf_counter()
        ws.enrol(roster_csv)
        print(f"enrolled in {time.perf_counter() - t:.1f}s", flush=True)

        phases = set(args.phases.split(","))
        if "latency" in phases:
            print(f"latency: {n} items ({mb:.1f} MB, {sum(1 for _, l in items[:n] if l)} with staff data)", flush=True)
            lat = asyncio.run(latency_phase(ws, items[:n], args))
            print(f"  matched {lat['matched']}/{lat['items']}; findings {lat['findings']}, pages {lat['pages']}")
            for what, vals in (("item -> job done", lat["done"]), ("item -> finding row", lat["found"])):
                print(f"  {what:20} p50 {percentile(vals, 50):6.2f}s  p90 {percentile(vals, 90):6.2f}s  "
                      f"p99 {percentile(vals, 99):6.2f}s  max {max(vals, default=float('nan')):6.2f}s  "
                      f"(poll interval {args.interval}s, mean {statistics.fmean(vals) if vals else float('nan'):.2f}s)")
        if "throughput" not in phases:
            return 0

        docs = items[n:n + args.docs]
        docs2 = items[n + args.docs:n + 2 * args.docs]
        mbd = sum(len(b) for b, _ in docs) / 1e6
        print(f"match throughput: {len(docs)} documents ({mbd:.1f} MB) per run", flush=True)
        base_s = baseline(ws, docs)
        print(f"  baseline (Scanner in-process, no queue)   {len(docs) / base_s:7.1f} docs/s  {mbd / base_s:5.2f} MB/s")
        asyncio.run(fill_queue(dsn, docs, "one"))
        one = asyncio.run(drain(ws, len(docs), 1))
        print(f"  leakwatch match, 1 worker process          {len(docs) / one:7.1f} docs/s  {mbd / one:5.2f} MB/s  "
              f"ratio to baseline {base_s / one:.2f}")
        asyncio.run(fill_queue(dsn, docs2, "two"))
        cores = os.cpu_count() or 1
        two = asyncio.run(drain(ws, len(docs2), cores))
        print(f"  leakwatch match, {cores} worker processes        {len(docs2) / two:7.1f} docs/s  "
              f"{sum(len(b) for b, _ in docs2) / 1e6 / two:5.2f} MB/s  ratio to baseline {base_s / two:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
