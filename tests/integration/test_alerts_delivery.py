"""The outbox relay against a failing Telegram: at least once, never silently twice, critical first."""

from __future__ import annotations

import asyncio
import time

import pytest

from alerts_support import CHATS, ROWS, add_finding, connect, make_cfg, notifier, outbox_rows, wait_until
from fakes.telegram import fake_telegram, page_redaction  # noqa: F401
from leakwatch.metrics import REGISTRY
from leakwatch.models import Severity

pytestmark = pytest.mark.usefixtures("page_redaction")


def failed(outcome: str) -> float:
    return REGISTRY.get_sample_value("leakwatch_alerts_failed_total",
                                     {"channel": "telegram", "outcome": outcome}) or 0.0


async def test_429_waits_what_telegram_says_then_delivers_once(db_dsn, tmp_path):
    """Flood control: the relay waits retry_after seconds, then sends; the page is not marked duplicate."""
    async with fake_telegram() as tg:
        tg.fault("sendMessage", "429", retry_after=1)
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[0:3], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: tg.messages, what="the page")
            rows = await outbox_rows(conn, channel="telegram")
    sends = tg.calls_of("sendMessage")
    assert len(sends) == 2 and len(tg.messages) == 1
    assert sends[1].at - sends[0].at >= 0.95  # what Telegram asked for, not less
    assert "Possible duplicate" not in tg.messages[0]["text"]
    assert [(r["state"], r["attempts"]) for r in rows] == [("sent", 2)]


async def test_connection_errors_back_off_with_jitter_and_deliver_once(db_dsn, tmp_path):
    """502s and refused connections: retried with growing, jittered waits; one clean delivery."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url, alerts={"retry_min_seconds": 0.05, "retry_max_seconds": 0.4})
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[3:6], Severity.HIGH)
            tg.outage(1.5, mode="502")
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) >= 3, what="retries")
                await tg.refuse()
                await asyncio.sleep(0.5)
                await tg.listen()
                await tg.wait_for(lambda: tg.messages, timeout=15, what="the page")
                await asyncio.sleep(0.3)
            rows = await outbox_rows(conn, channel="telegram")
    sends = tg.calls_of("sendMessage")
    gaps = [b.at - a.at for a, b in zip(sends, sends[1:])]
    assert len(sends) < 40  # backing off, not hammering (without backoff: hundreds in 2 s)
    assert len(set(round(g, 3) for g in gaps)) > 1  # jittered
    assert len(tg.messages) == 1 and "Possible duplicate" not in tg.messages[0]["text"]
    assert [r["state"] for r in rows] == ["sent"]


async def test_bad_request_goes_dead_is_counted_and_tells_the_operators(db_dsn, tmp_path):
    """A chat Telegram refuses (400) or bars the bot from (403): dead, not retried, counted, and
    an operator alert goes to the ops chat; the other chats still get the page."""
    async with fake_telegram() as tg:
        tg.dead_chats[7002] = (400, "Bad Request: chat not found")
        cfg = make_cfg(tmp_path, tg.url)
        before = failed("dead")
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[6:20], Severity.CRITICAL)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: any(m["chat_id"] == CHATS["ops"][0] for m in tg.messages),
                                  what="the operator alert")
                await asyncio.sleep(0.4)
            rows = await outbox_rows(conn, channel="telegram", kind="page")
            alert_id = await conn.fetchval("SELECT id FROM alerts")
    assert sorted((r["chat"], r["state"]) for r in rows) == [(7001, "sent"), (7002, "dead")]
    dead = [r for r in rows if r["state"] == "dead"][0]
    assert dead["last_error"] == "BadRequest: Chat not found" and dead["reported_at"] is not None
    assert len([c for c in tg.calls_of("sendMessage") if int(c.params["chat_id"]) == 7002]) == 1
    assert failed("dead") == before + 1
    ops = [m for m in tg.messages if m["chat_id"] == CHATS["ops"][0]]
    assert len(ops) == 1
    assert "could not be delivered" in ops[0]["text"] and f"alert #{alert_id} page" in ops[0]["text"]
    assert "Chat not found" in ops[0]["text"] and ops[0]["reply_markup"] is None


async def test_timed_out_send_is_resent_marked_as_possible_duplicate(db_dsn, tmp_path):
    """Telegram took the message but answered too late: the resend says it may be a duplicate."""
    async with fake_telegram() as tg:
        tg.fault("sendMessage", "slow", seconds=1.5)
        cfg = make_cfg(tmp_path, tg.url, telegram={"request_timeout": 0.5})
        before = failed("unconfirmed")
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[20:24], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.messages) >= 2, what="the resend")
            rows = await outbox_rows(conn, channel="telegram")
    first, second = tg.messages
    assert "Possible duplicate" not in first["text"]
    assert second["text"].startswith(f"\u26a0 Possible duplicate of message #{rows[0]['id']}")
    assert second["text"].split("\n", 1)[1] == first["text"]
    assert [(r["state"], r["possible_duplicate_of"]) for r in rows] == [("unconfirmed", None),
                                                                         ("sent", rows[0]["id"])]
    assert failed("unconfirmed") == before + 1


async def test_dropped_connection_after_delivery_is_resent_marked(db_dsn, tmp_path):
    """The connection closes without an answer (the message may be there): marked resend."""
    async with fake_telegram() as tg:
        tg.fault("sendMessage", "drop_after")
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[24:27], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.messages) >= 2, what="the resend")
                await asyncio.sleep(0.3)
    assert len(tg.messages) == 2
    assert "Possible duplicate" in tg.messages[1]["text"] and "Possible duplicate" not in tg.messages[0]["text"]


async def test_thirty_minute_outage_compressed_delivers_all_critical_first(db_dsn, tmp_path):
    """Telegram unreachable while 40 alerts queue up: afterwards every page arrives once, every
    critical one before the first high one."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url, telegram={"chats": {"critical": [7001], "high": [7002], "ops": [7003]}})
        async with connect(db_dsn) as conn:
            async with notifier(cfg, db_dsn):
                await tg.refuse()
                for i in range(40):
                    sev = Severity.CRITICAL if i % 2 else Severity.HIGH
                    await add_finding(conn, cfg, ROWS[i * 3:i * 3 + 3], sev)
                await asyncio.sleep(1.0)  # the relay keeps failing and backing off
                assert tg.messages == []
                recovered = time.monotonic()
                await tg.listen()
                await tg.wait_for(lambda: len(tg.messages) >= 40, timeout=30, what="all 40 pages")
                drained = time.monotonic() - recovered
                await asyncio.sleep(0.3)
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM alerts ORDER BY id")]
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'routed')")
    assert len(ids) == 40 and pending == 0 and len(tg.messages) == 40
    paged = sorted(int(m["text"].split("alert #")[1].split("\n")[0]) for m in tg.messages)
    assert paged == ids  # every alert, once
    kinds = ["CRITICAL" in m["text"] for m in tg.messages]
    assert kinds == [True] * 20 + [False] * 20
    assert all(m["chat_id"] == 7001 for m in tg.messages[:20])
    assert drained < 30


async def test_two_notifiers_send_each_page_once(db_dsn, tmp_path):
    """Two replicas at once: one relays, the other stands by; one getUpdates poller, no 409."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            async with notifier(cfg, db_dsn, copies=2):
                for i in range(15):
                    await add_finding(conn, cfg, ROWS[i * 4:i * 4 + 4], Severity.HIGH)
                await tg.wait_for(lambda: len(tg.messages) >= 15, timeout=20, what="15 pages")
                await asyncio.sleep(0.5)
            n = await conn.fetchval("SELECT count(*) FROM alerts")
    texts = [m["text"] for m in tg.messages]
    assert n == 15 and len(texts) == 15 and len(set(texts)) == 15
    assert tg.conflicts == 0


async def test_startup_does_not_wait_for_telegram(db_dsn, tmp_path):
    """With Telegram unreachable the notifier starts, keeps pages queued, and stops promptly;
    it never calls getMe."""
    async with fake_telegram() as tg:
        await tg.refuse()
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[60:63], Severity.CRITICAL)
            started = time.monotonic()
            async with notifier(cfg, db_dsn) as tasks:
                await wait_until(lambda: conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'routed'"),
                                 what="the page routed to its chats")
                await asyncio.sleep(0.5)
                assert not any(t.done() for t in tasks)
            assert time.monotonic() - started < 15
            states = sorted(r["state"] for r in await outbox_rows(conn, channel="telegram"))
        await tg.listen()
    assert states == ["pending", "pending"]
    assert tg.calls_of("getMe") == []


async def test_database_connections_lost_mid_run_paging_resumes(db_dsn, tmp_path):
    """Postgres drops every connection of the notifier (a restart, a failover): it reconnects,
    takes the relay lock again and pages what was queued meanwhile."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            async with notifier(cfg, db_dsn) as tasks:
                await add_finding(conn, cfg, ROWS[70:73], Severity.HIGH)
                await tg.wait_for(lambda: len(tg.messages) == 1, what="the first page")
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                await add_finding(conn, cfg, ROWS[73:76], Severity.HIGH)
                await tg.wait_for(lambda: len(tg.messages) == 2, timeout=20, what="the page after the loss")
                assert not any(t.done() for t in tasks)
    assert killed >= 2  # the pool and the lock connection
    assert "Possible duplicate" not in tg.messages[1]["text"]


async def test_the_fake_answers_409_to_the_earlier_of_two_pollers():
    """Two getUpdates at once: Telegram ends the earlier with 409 Conflict (so the two-replica
    test's zero conflicts means one poller)."""
    from telegram.error import Conflict
    from telegram.ext import ExtBot
    from telegram.request import HTTPXRequest

    from fakes.telegram import TOKEN

    async with fake_telegram() as tg:
        bot = ExtBot(TOKEN, base_url=f"{tg.url}/bot", get_updates_request=HTTPXRequest(connection_pool_size=2))
        await bot.initialize()
        try:
            first = asyncio.create_task(bot.get_updates(timeout=3))
            await tg.wait_for(lambda: len(tg.calls_of("getUpdates")) == 1, what="the first poll")
            second = asyncio.create_task(bot.get_updates(timeout=0))
            with pytest.raises(Conflict):
                await first
            assert await second == ()
        finally:
            await bot.shutdown()
    assert tg.conflicts == 1
