"""Buttons and commands: acknowledge, false positive, escalate; /status and /ack; the allow-list;
repeats; the Telegram webhook route."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from alerts_support import (ALLOWED, CHATS, ROWS, STRANGER, add_finding, connect, make_cfg, notifier, outbox_rows,
                            wait_until)
from fakes import serve
from fakes.telegram import fake_telegram, page_redaction  # noqa: F401
from leakwatch.alerts import webhook_routes
from leakwatch.db import outbox
from leakwatch.db.pipeline import ensure_source, source_failed, store_poll
from leakwatch.models import Item, Severity

pytestmark = pytest.mark.usefixtures("page_redaction")


async def _paged(tg, conn, cfg, staff, severity=Severity.HIGH) -> int:
    await add_finding(conn, cfg, staff, severity)
    alert_id = await conn.fetchval("SELECT max(id) FROM alerts")
    chats = len(CHATS["critical" if severity >= Severity.CRITICAL else "high"])
    await tg.wait_for(lambda: len([m for m in tg.messages if f"alert #{alert_id}\n" in m["text"]]) == chats,
                      what="the page")
    return alert_id


async def test_acknowledge_from_an_allowed_user_is_recorded_and_shown(db_dsn, tmp_path):
    """An allowed user's Acknowledge: state changes, who/when/what recorded, the message edited,
    the button press answered."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn, notifier(cfg, db_dsn):
            alert_id = await _paged(tg, conn, cfg, ROWS[0:4])
            tg.press(ALLOWED, f"lw:ack:{alert_id}", username="oncall_alex")
            await tg.wait_for(lambda: tg.edits and tg.answers, what="the edit and the answer")
            a = await conn.fetchrow("SELECT state, acted_by, acted_at FROM alerts WHERE id = $1", alert_id)
            actions = await outbox.actions_of(conn, alert_id)
    assert a["state"] == "acknowledged" and a["acted_by"] == "@oncall_alex" and a["acted_at"] is not None
    assert [(x["action"], x["actor"], x["via"], x["changed"]) for x in actions] == [
        ("acknowledge", "@oncall_alex", "button", True)]
    assert "Status: ACKNOWLEDGED by @oncall_alex at " in tg.edits[-1]["text"]
    assert tg.edits[-1]["message_id"] == tg.messages[0]["message_id"]
    assert tg.answers[-1]["text"] == f"Alert #{alert_id} acknowledged."


async def test_a_strangers_click_changes_nothing_and_is_recorded(db_dsn, tmp_path):
    """A user not on the allow-list is told so; the alert stays open; the refusal is recorded."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn, notifier(cfg, db_dsn):
            alert_id = await _paged(tg, conn, cfg, ROWS[4:8])
            tg.press(STRANGER, f"lw:fp:{alert_id}", username="someone_else")
            await tg.wait_for(lambda: tg.answers, what="the answer")
            await asyncio.sleep(0.4)
            state = await conn.fetchval("SELECT state FROM alerts WHERE id = $1", alert_id)
            actions = await conn.fetch("SELECT action, actor_id, changed FROM alert_actions")
    assert state == "open" and tg.edits == []
    assert tg.answers[0]["show_alert"] and "not on leakwatch's list" in tg.answers[0]["text"]
    assert [(r["action"], r["actor_id"], r["changed"]) for r in actions] == [("denied:false_positive", STRANGER,
                                                                               False)]


async def test_repeated_clicks_are_harmless(db_dsn, tmp_path):
    """Three clicks on Acknowledge: one change, one edit, three recorded presses, polite answers."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn, notifier(cfg, db_dsn):
            alert_id = await _paged(tg, conn, cfg, ROWS[8:12])
            for _ in range(3):
                tg.press(ALLOWED, f"lw:ack:{alert_id}", username="oncall_alex")
            await tg.wait_for(lambda: len(tg.answers) == 3, what="three answers")
            await asyncio.sleep(0.5)
            changed = await conn.fetch("SELECT changed FROM alert_actions ORDER BY id")
            edits = await outbox_rows(conn, kind="edit")
    assert [r["changed"] for r in changed] == [True, False, False]
    assert len(tg.edits) == 1 and len(edits) == 1
    assert [a["text"] for a in tg.answers[1:]] == [f"Alert #{alert_id} was already acknowledged."] * 2


async def test_a_replayed_update_records_nothing_twice(db_dsn, tmp_path):
    """The same callback handled twice (offset lost in a crash) is recorded once."""
    cfg = make_cfg(tmp_path, "http://127.0.0.1:9")
    async with connect(db_dsn) as conn:
        await add_finding(conn, cfg, ROWS[12:16], Severity.HIGH)
        alert_id = await conn.fetchval("SELECT id FROM alerts")
        first = await outbox.act(conn, alert_id, "false_positive", actor="@a", actor_id=ALLOWED, via="button",
                                 request_id="cq:1")
        again = await outbox.act(conn, alert_id, "false_positive", actor="@a", actor_id=ALLOWED, via="button",
                                 request_id="cq:1")
        n = await conn.fetchval("SELECT count(*) FROM alert_actions")
        missing = await outbox.act(conn, 999, "acknowledge", actor="@a", actor_id=ALLOWED, via="command",
                                   request_id="up:9")
    assert first.changed and not again.changed and again.replay and n == 1
    assert not missing.found


async def test_false_positive_and_escalate_buttons(db_dsn, tmp_path):
    """False positive marks and shows it; Escalate pages the escalation chat once."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn, notifier(cfg, db_dsn):
            fp = await _paged(tg, conn, cfg, ROWS[16:20])
            esc = await _paged(tg, conn, cfg, ROWS[30:34])
            esc_msg = [m for m in tg.messages if f"alert #{esc}" in m["text"]][0]
            tg.press(ALLOWED, f"lw:fp:{fp}", username="oncall_alex")
            tg.press(ALLOWED, f"lw:esc:{esc}", message=esc_msg, first_name="Sam")
            tg.press(ALLOWED, f"lw:esc:{esc}", message=esc_msg, first_name="Sam")
            await tg.wait_for(lambda: any(m["chat_id"] == CHATS["escalation"][0] for m in tg.messages),
                              what="the escalation page")
            await tg.wait_for(lambda: len(tg.edits) >= 2, what="both edits")
            await asyncio.sleep(0.4)
            states = dict(await conn.fetch("SELECT id, state FROM alerts"))
    assert states[fp] == "false_positive" and states[esc] == "escalated"
    escalations = [m for m in tg.messages if m["chat_id"] == CHATS["escalation"][0]]
    assert len(escalations) == 1
    assert escalations[0]["text"].startswith("\u23eb Escalated by Sam") and f"alert #{esc}" in escalations[0]["text"]
    assert any("Status: FALSE POSITIVE by @oncall_alex" in e["text"] for e in tg.edits)
    assert any("Status: ESCALATED by Sam" in e["text"] for e in tg.edits)


async def test_status_and_ack_commands(db_dsn, tmp_path):
    """/status lists source health and open alerts; /ack ID acknowledges; strangers get nothing."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await ensure_source(conn, "gists", "gists")
            for _ in range(6):
                await source_failed(conn, "gists", "gist.example: 503", None)
            async with notifier(cfg, db_dsn):
                alert_id = await _paged(tg, conn, cfg, ROWS[34:38], Severity.CRITICAL)

                def replies():
                    return [m for m in tg.messages if m["chat_id"] == -100200300]

                tg.say(ALLOWED, "/status@leakwatch_test_bot", chat_id=-100200300)
                await tg.wait_for(lambda: len(replies()) == 1, what="the status")
                tg.say(STRANGER, "/status", chat_id=-100200300)
                await tg.wait_for(lambda: len(replies()) == 2, what="the refusal")
                tg.say(ALLOWED, f"/ack {alert_id}", chat_id=-100200300, username="oncall_alex")
                await tg.wait_for(lambda: len(replies()) == 3, what="the ack reply")
                tg.say(ALLOWED, "/ack 999", chat_id=-100200300)
                await tg.wait_for(lambda: len(replies()) == 4, what="the unknown-id reply")
                status, refusal, ack, unknown = replies()
                state = await conn.fetchval("SELECT state FROM alerts WHERE id = $1", alert_id)
                # The offset is stored once the handler of the last update returns, after its reply.
                for _ in range(100):
                    offset = await conn.fetchval("SELECT value FROM telegram_state WHERE key = 'update_offset'")
                    if offset == 5:
                        break
                    await asyncio.sleep(0.05)
    assert status["chat_id"] == -100200300
    assert "\u274c gists: no success yet, 6 failures in a row" in status["text"]
    assert "\u2705 pastebin: last success" in status["text"]
    assert f"#{alert_id} CRITICAL 4 staff, pastebin" in status["text"] and "Open alerts: 1 (1 critical)" in status["text"]
    assert "not on leakwatch's list" in refusal["text"] and "pastebin" not in refusal["text"]
    assert ack["text"] == f"Alert #{alert_id} acknowledged." and state == "acknowledged"
    assert unknown["text"] == "There is no alert #999."
    assert offset == 5  # four updates handled, the next one asked for


async def test_webhook_route_checks_the_secret_and_handles_buttons(db_dsn, tmp_path):
    """updates = "webhook": the leader calls setWebhook with the secret; Telegram's calls carrying
    it are handled; calls without it are refused."""
    secret = tmp_path / "webhook-secret"
    secret.write_text("s3cret-token_for-webhook\n")
    async with fake_telegram() as tg:
        base = make_cfg(tmp_path, tg.url, telegram={"updates": "webhook", "webhook_url": "http://127.0.0.1:1/x",
                                                    "webhook_secret_file": str(secret)})
        routes = webhook_routes(base, db_dsn)
        app = web.Application()
        app.add_routes(routes)

        async def close(_app):
            await routes.close()

        app.on_cleanup.append(close)
        async with serve(app) as url:
            cfg = make_cfg(tmp_path, tg.url, telegram={"updates": "webhook", "webhook_url": f"{url}/telegram/webhook",
                                                       "webhook_secret_file": str(secret)})
            async with connect(db_dsn) as conn, notifier(cfg, db_dsn):
                await tg.wait_for(lambda: tg.webhook is not None, what="setWebhook")
                alert_id = await _paged(tg, conn, cfg, ROWS[38:42])
                tg.press(ALLOWED, f"lw:ack:{alert_id}", username="oncall_alex")
                await tg.wait_for(lambda: tg.answers and tg.edits, what="the answer and the edit")
                async with aiohttp.ClientSession() as s:
                    bad = await s.post(f"{url}/telegram/webhook", json={"update_id": 77},
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
                    none = await s.post(f"{url}/telegram/webhook", json={"update_id": 78})
                state = await conn.fetchval("SELECT state FROM alerts WHERE id = $1", alert_id)
    assert tg.webhook == {"url": f"{url}/telegram/webhook", "secret_token": "s3cret-token_for-webhook"}
    assert tg.webhook_results == [200] and bad.status == 403 and none.status == 403
    assert state == "acknowledged" and tg.calls_of("getUpdates") == []


async def test_escalation_repeats_up_to_the_cap_and_stops_when_acknowledged(db_dsn, tmp_path):
    """An unacknowledged critical alert re-pages the escalation chat every N minutes, at most
    escalate_max times; an acknowledged one never escalates; high alerts never do."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url, alerts={"escalate_after_minutes": 0.01, "escalate_max": 2})
        async with connect(db_dsn) as conn, notifier(cfg, db_dsn):
            loud = await _paged(tg, conn, cfg, ROWS[42:46], Severity.CRITICAL)
            quiet = await _paged(tg, conn, cfg, ROWS[46:50], Severity.CRITICAL)
            high = await _paged(tg, conn, cfg, ROWS[50:54], Severity.HIGH)
            await outbox.act(conn, quiet, "acknowledge", actor="@oncall_alex", actor_id=ALLOWED, via="command",
                             request_id=None)
            esc_chat = CHATS["escalation"][0]
            await tg.wait_for(lambda: len([m for m in tg.messages if m["chat_id"] == esc_chat]) >= 2,
                              what="two escalations")
            await asyncio.sleep(1.3)  # two more periods: a third would be here, were there no cap
            esc = await conn.fetchrow("SELECT escalations FROM alerts WHERE id = $1", loud)
    pages = [m for m in tg.messages if m["chat_id"] == CHATS["escalation"][0]]
    assert [p["text"].split("\n")[0] for p in pages] == ["\u23eb Escalation 1 of 2: critical alert not acknowledged",
                                                         "\u23eb Escalation 2 of 2: critical alert not acknowledged"]
    assert all(f"alert #{loud}" in p["text"] for p in pages) and esc["escalations"] == 2
    assert not any(f"alert #{quiet}" in p["text"] or f"alert #{high}" in p["text"] for p in pages)


async def test_operator_alerts_for_failing_silent_sources_and_backlog_are_rate_limited(db_dsn, tmp_path):
    """Failing and silent sources and a match backlog reach the ops chat once per period, not on
    every check; a cleared condition is reported resolved."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url, alerts={"source_silent_minutes": 60, "operator_every_minutes": 30},
                       pipeline={"backlog_alert": 2, "source_failures_alert": 3})
        async with connect(db_dsn) as conn:
            await ensure_source(conn, "pastebin", "pastebin")
            for _ in range(3):
                await source_failed(conn, "pastebin", "scrape.example: refused", None)
            await ensure_source(conn, "feeds", "feed")
            await store_poll(conn, "feeds", [Item(f"x{i}", b"nothing here", "x.txt") for i in range(3)], None)
            await conn.execute("UPDATE sources SET last_success_at = now() - interval '2 hours' WHERE name = 'feeds'")
            ops = CHATS["ops"][0]
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: any(m["chat_id"] == ops for m in tg.messages), what="operator alert")
                await asyncio.sleep(0.6)  # three more checks: nothing more while rate-limited
                first = [m["text"] for m in tg.messages if m["chat_id"] == ops]
                await conn.execute("UPDATE match_jobs SET state = 'done'")
                await store_poll(conn, "pastebin", [], None)  # the source recovers
                await tg.wait_for(lambda: len([m for m in tg.messages if m["chat_id"] == ops]) >= 2,
                                  what="resolved")
                await asyncio.sleep(0.6)
            texts = [m["text"] for m in tg.messages if m["chat_id"] == ops]
            suppressed = await conn.fetchval("SELECT suppressed FROM operator_alerts WHERE key = 'source:feeds:silent'")
    assert len(first) == 1
    assert "Source pastebin is failing: 3 polls in a row" in first[0]
    assert "Source feeds is silent: no successful poll for 2 h" in first[0]
    assert "Source pastebin is silent" not in first[0]
    assert "Match backlog: 3 documents waiting (alert above 2)" in first[0]
    assert len(texts) == 2
    assert "Resolved: Source pastebin is failing" in texts[1] and "Resolved: Match backlog" in texts[1]
    assert "feeds" not in texts[1] and suppressed >= 3


async def test_wait_until_helper_fails_loudly():
    """The polling helper used by these tests raises when the condition never holds."""
    with pytest.raises(AssertionError):
        await wait_until(lambda: False, timeout=0.1, what="never")


async def test_odd_ack_ids_do_not_stop_the_commands_that_follow(db_dsn, tmp_path):
    """"/ack ²" (a digit to str.isdigit) and an id beyond bigint get the usage line; the next /ack works."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            async with notifier(cfg, db_dsn):
                alert_id = await _paged(tg, conn, cfg, ROWS[40:44], Severity.CRITICAL)

                def replies():
                    return [m for m in tg.messages if m["chat_id"] == -100200301]

                tg.say(ALLOWED, "/ack \u00b2", chat_id=-100200301)
                tg.say(ALLOWED, "/ack 99999999999999999999", chat_id=-100200301)
                tg.say(ALLOWED, f"/ack {alert_id}", chat_id=-100200301)
                await tg.wait_for(lambda: len(replies()) == 3, what="three replies")
                state = await conn.fetchval("SELECT state FROM alerts WHERE id = $1", alert_id)
    usage = [m["text"] for m in replies()[:2]]
    assert all(t.startswith("Usage: /ack ID") for t in usage), usage
    assert replies()[2]["text"] == f"Alert #{alert_id} acknowledged." and state == "acknowledged"
