"""Paging latency and outage drain, against a fake Telegram Bot API on loopback.

    .venv/bin/python benchmarks/paging.py [--findings 200] [--backlog 100] [--chats 1]

Needs the local Postgres (127.0.0.1:5432, or --admin-dsn); creates a database of its own and
drops it afterwards. Runs the real notifier (`leakwatch.alerts.run_notifier`: python-telegram-bot's
ExtBot with AIORateLimiter) against the fake server the tests use (`tests/fakes/telegram.py`).

1. Idle latency: findings one at a time, from the commit of the finding (its page is queued in
   that transaction) to the fake server receiving sendMessage.
2. Burst: N findings committed at once from 4 connections; the same latency per page, p50 and
   p99, and the throughput. Telegram's limits are kept by the rate limiter: at most 30 messages
   a second for the bot and 20 a minute per group chat. The pages go to private chat ids (only
   the overall limit applies), so the burst measures the pipeline and not a one-group queue of
   10 minutes; the limits in force are printed.
3. Outage: Telegram refuses connections while M alerts (critical and high) are queued, then
   comes back: the time to the first page and to the last, whether every page arrived, and
   whether every critical page came before the first high one.

Synthetic data only: refs are random, ranks and units are public words, bodies are filler.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import asyncpg  # noqa: E402

from fakes.telegram import TOKEN, FakeTelegram  # noqa: E402
from leakwatch.alerts import finding_hook, run_notifier, settings  # noqa: E402
from leakwatch.config import load_config  # noqa: E402
from leakwatch.db import migrate  # noqa: E402
from leakwatch.log import setup_logging  # noqa: E402
from leakwatch.db.pipeline import claim_jobs, ensure_source, finish_job, store_poll  # noqa: E402
from leakwatch.models import Item, Severity  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
RANKS = ["PC", "PS", "DC", "Insp", "Police Staff"]
UNITS = ["Response", "Custody", "Roads Policing", "Counter Terrorism Command"]


def _with_db(dsn: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def _ref(rng: random.Random) -> str:
    return "s-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(16))


def _result(rng: random.Random, severity: Severity) -> dict:
    staff = [{"ref": _ref(rng), "kinds": ["name", "pay_number"], "confidence": 0.95, "rank": rng.choice(RANKS),
              "unit": rng.choice(UNITS), "sensitive": False, "leaver": False} for _ in range(rng.randint(2, 12))]
    return {"severity": int(severity), "score": 9.0, "staff": staff, "credentials": [],
            "reasons": ["severity: staff with identifiers"], "parts": [], "rejections": []}


async def _commit_finding(conn, hook, rng: random.Random, severity: Severity) -> tuple[int, float]:
    """One document, its match job and a finding, as the match stage records them. (alert id, commit time)."""
    await store_poll(conn, "bench", [Item(uuid.uuid4().hex, b"synthetic filler " + uuid.uuid4().bytes, "doc.txt",
                                          "https://paste.example/raw/bench")], None)
    (job,) = await claim_jobs(conn, "bench", 1, 60)  # some ready job (with several writers, maybe another's)
    finding = await finish_job(conn, job, "bench", _result(rng, severity), severity=int(severity), on_finding=hook)
    committed = time.monotonic()
    alert_id = await conn.fetchval("SELECT id FROM alerts WHERE finding_ids @> ARRAY[$1::bigint]", finding)
    return alert_id, committed


def _alert_of(text: str) -> int:
    return int(text.split("alert #", 1)[1].split("\n", 1)[0])


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


async def bench(args) -> None:
    setup_logging("text", "error")  # the relay logs every failed send during the outage
    rng = random.Random(args.seed)
    name = f"lw_bench_paging_{os.getpid()}"
    admin = await asyncpg.connect(args.admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_db(args.admin_dsn, name)
    fake = FakeTelegram()
    await fake.start()
    tmp = Path(tempfile.mkdtemp(prefix="lw-paging-"))
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await ensure_source(conn, "bench", "bench")
        token = tmp / "token"
        token.write_text(TOKEN)
        high = [1_000 + i for i in range(args.chats)]
        critical = [2_000 + i for i in range(args.chats)]
        cfg_path = tmp / "lw.toml"
        cfg_path.write_text(
            f'[telegram]\napi_url = "{fake.url}"\ntoken_file = "{token}"\n'
            f"chats = {{ critical = {critical}, high = {high}, ops = [3000] }}\nupdates = \"off\"\n"
            f"[alerts]\nretry_min_seconds = 0.5\nretry_max_seconds = {args.retry_max}\ncheck_seconds = 5\n")
        cfg = load_config(cfg_path, env={})
        st = settings(cfg)
        hook = finding_hook(cfg)
        print(f"limits: {st.telegram.rate_per_second:g} messages/s for the bot, {st.telegram.group_per_minute:g}/min "
              f"per group chat (AIORateLimiter); pages to {args.chats} private chat id(s) per severity; "
              f"relay_batch {st.alerts.relay_batch} in flight")

        stop = asyncio.Event()
        notifier = asyncio.create_task(run_notifier(cfg, dsn, stop))
        await asyncio.sleep(1.0)  # the relay takes its lock

        # 1. idle latency
        idle = []
        for _ in range(args.idle):
            n0 = len(fake.messages)
            alert_id, t0 = await _commit_finding(conn, hook, rng, Severity.HIGH)
            while len(fake.messages) < n0 + args.chats:
                await asyncio.sleep(0.002)
            idle.append(min(m["at"] for m in fake.messages[n0:]) - t0)
            await asyncio.sleep(0.1)
        print(f"idle: {len(idle)} findings one at a time, finding committed -> sendMessage received: "
              f"p50 {statistics.median(idle) * 1000:.0f} ms, p99 {_pct(idle, 99) * 1000:.0f} ms, "
              f"max {max(idle) * 1000:.0f} ms")

        # 2. burst
        n0 = len(fake.messages)
        committed: dict[int, float] = {}
        conns = [await asyncpg.connect(dsn) for _ in range(4)]

        async def writer(c, count: int, seed: int):
            r = random.Random(seed)
            for _ in range(count):
                a, t = await _commit_finding(c, hook, r, Severity.HIGH)
                committed[a] = t

        per = [args.findings // 4 + (1 if i < args.findings % 4 else 0) for i in range(4)]
        started = time.monotonic()
        await asyncio.gather(*(writer(c, n, args.seed * 1000 + i + 1) for i, (c, n) in enumerate(zip(conns, per))))
        inserted = time.monotonic() - started
        want = n0 + args.findings * args.chats
        deadline = time.monotonic() + 600
        while len(fake.messages) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        got = fake.messages[n0:]
        first_at = {}
        for m in got:
            a = _alert_of(m["text"])
            first_at[a] = min(first_at.get(a, m["at"]), m["at"])
        lat = [first_at[a] - t for a, t in committed.items() if a in first_at]
        span = max(m["at"] for m in got) - started
        print(f"burst: {args.findings} findings committed in {inserted:.2f} s from 4 connections; "
              f"{len(got)} pages received ({'all' if len(lat) == args.findings else 'MISSING SOME'}); "
              f"finding -> sendMessage p50 {statistics.median(lat):.2f} s, p99 {_pct(lat, 99):.2f} s, "
              f"max {max(lat):.2f} s; {len(got) / span:.1f} messages/s")
        for c in conns:
            await c.close()

        # 3. outage
        await fake.refuse()
        n0 = len(fake.messages)
        crit = 0
        for i in range(args.backlog):
            sev = Severity.CRITICAL if rng.random() < 0.3 else Severity.HIGH
            crit += sev == Severity.CRITICAL
            await _commit_finding(conn, hook, rng, sev)
        await asyncio.sleep(args.outage)
        want = n0 + crit * args.chats + (args.backlog - crit) * args.chats
        back = time.monotonic()
        await fake.listen()
        deadline = back + 600
        while len(fake.messages) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        got = fake.messages[n0:]
        first = min(m["at"] for m in got) - back
        last = max(m["at"] for m in got) - back
        order = ["CRITICAL" in m["text"] for m in got]
        critical_first = order == sorted(order, reverse=True)
        await asyncio.sleep(1.0)  # the relay records the last sends
        lost = await conn.fetchval(
            "SELECT count(*) FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = a.id "
            "AND o.kind = 'page' AND o.state = 'sent')")
        marked = await conn.fetchval("SELECT count(*) FROM outbox WHERE possible_duplicate_of IS NOT NULL")
        print(f"outage: {args.backlog} alerts ({crit} critical) queued during {args.outage:g} s of refused "
              f"connections, retry_max_seconds {args.retry_max:g}: first page {first:.2f} s after recovery, "
              f"all {len(got)} messages by {last:.2f} s (drain {last - first:.2f} s); critical first: "
              f"{'yes' if critical_first else 'NO'}; alerts never delivered: {lost}; resends marked possible "
              f"duplicate: {marked} (sends cut off by the outage mid-request)")
        print(f"  (a real 30-minute outage: the relay is by then retrying every 0.5-{args.retry_max:g} s at random "
              f"with these settings, 1-60 s with the defaults; add that to the first page)")

        stop.set()
        await asyncio.wait_for(notifier, 20)
        await conn.close()
    finally:
        await fake.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--admin-dsn", default=os.environ.get("LEAKWATCH_BENCH_DSN", ADMIN_DSN),
                    help="Postgres to create the throwaway database on (env LEAKWATCH_BENCH_DSN)")
    ap.add_argument("--findings", type=int, default=200, help="findings in the burst (default 200)")
    ap.add_argument("--idle", type=int, default=20, help="findings for the idle latency (default 20)")
    ap.add_argument("--backlog", type=int, default=100, help="alerts queued during the outage (default 100)")
    ap.add_argument("--outage", type=float, default=5.0, help="seconds Telegram refuses connections (default 5)")
    ap.add_argument("--retry-max", type=float, default=5.0, help="[alerts] retry_max_seconds for the run (default 5)")
    ap.add_argument("--chats", type=int, default=1, help="private chat ids per severity (default 1)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
