"""Findings become alerts and pages: who is paged, for what, what the page says, and re-posts."""

from __future__ import annotations

import asyncio

import pytest

from alerts_support import CHATS, ROWS, add_finding, connect, make_cfg, notifier, outbox_rows, ref
from fakes.telegram import fake_telegram, page_redaction  # noqa: F401  (session-wide redaction check)
from leakwatch.models import Severity

pytestmark = pytest.mark.usefixtures("page_redaction")


async def test_high_and_critical_page_their_chats_and_medium_pages_no_one(db_dsn, tmp_path):
    """A high finding pages the high chats, a critical one the critical chats; a medium one nobody."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[0:3], Severity.MEDIUM)
            await add_finding(conn, cfg, ROWS[10:14], Severity.HIGH)
            await add_finding(conn, cfg, ROWS[20:40], Severity.CRITICAL)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.messages) >= 3, what="three pages")
                await asyncio.sleep(0.5)  # anything more would arrive by now
            alerts = await conn.fetch("SELECT id, severity FROM alerts ORDER BY id")
        assert [a["severity"] for a in alerts] == [Severity.HIGH, Severity.CRITICAL]
        assert len(tg.messages) == 3
        by_chat = sorted((m["chat_id"], m["text"].split("\n")[0]) for m in tg.messages)
        assert [c for c, _ in by_chat] == sorted(CHATS["high"] + CHATS["critical"])
        crit = [m for m in tg.messages if "CRITICAL" in m["text"]]
        assert sorted(m["chat_id"] for m in crit) == CHATS["critical"]
        high = [m for m in tg.messages if "HIGH" in m["text"]]
        assert [m["chat_id"] for m in high] == CHATS["high"]
        assert all(m["link_preview_options"] == {"is_disabled": True} for m in tg.messages)


async def test_page_says_what_was_found_in_words_with_refs_and_a_link(db_dsn, tmp_path):
    """The page: severity, staff count, ranks, units, kinds of data, credentials, source and URL,
    first seen, refs, alert id, link, buttons; and none of the leaked values."""
    staff = ROWS[40:46]
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url, public_url="https://leakwatch.example/")
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, staff, Severity.HIGH, creds=2, url="https://paste.example/raw/QwErTy")
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: tg.messages, what="the page")
            alert_id = await conn.fetchval("SELECT id FROM alerts")
    text = tg.messages[0]["text"]
    assert f"HIGH: police staff data exposed \u00b7 alert #{alert_id}" in text
    assert "6 staff members" in text
    for rank in {r.rank for r in staff}:
        assert rank in text
    for unit in {r.unit for r in staff}:
        assert unit in text
    assert "names (6)" in text and "pay numbers (6)" in text
    assert "Credentials: YES, 2 passwords" in text
    assert "Source: pastebin \u2014 https://paste.example/raw/QwErTy" in text
    assert "First seen: " in text and " UTC" in text
    for r in staff:
        assert ref(r) in text
    assert f"https://leakwatch.example/alerts/{alert_id}" in text
    assert "Status: OPEN" in text
    buttons = tg.messages[0]["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Acknowledge", "False positive", "Escalate"]
    assert [b["callback_data"] for b in buttons] == [f"lw:ack:{alert_id}", f"lw:fp:{alert_id}", f"lw:esc:{alert_id}"]
    for r in staff:  # the leak held all of these; the page holds none
        for value in (r.surname, r.forenames, r.pay_number, r.email):
            assert value not in text


async def test_no_link_when_the_web_ui_has_no_public_url(db_dsn, tmp_path):
    """With [web] public_url empty the page carries no link."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url, public_url="")
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[50:52], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: tg.messages, what="the page")
    assert "/alerts/" not in tg.messages[0]["text"]


async def test_repost_of_the_same_content_updates_the_alert_instead_of_paging(db_dsn, tmp_path):
    """The same leak re-posted on another site is a sighting: the page is edited, nobody is paged."""
    staff = ROWS[60:70]
    body = b"same leak " + b"\n".join(f"{r.surname} {r.pay_number}".encode() for r in staff)
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, staff, Severity.HIGH, body=body)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: tg.messages, what="the first page")
                await add_finding(conn, cfg, staff, Severity.HIGH, body=body, source="gists",
                                  url="https://gist.example/abc/raw")
                await tg.wait_for(lambda: tg.edits, what="the edit")
                await asyncio.sleep(0.5)
            a = await conn.fetchrow("SELECT * FROM alerts")
            n_alerts = await conn.fetchval("SELECT count(*) FROM alerts")
            dup = await conn.fetchval("SELECT count(*) FROM findings WHERE duplicate_of IS NOT NULL")
    assert dup == 1 and n_alerts == 1
    assert a["seen_count"] == 2 and len(a["finding_ids"]) == 2
    assert len(tg.messages) == 1  # no second page
    assert "Seen 2 times; again on gists at " in tg.edits[-1]["text"]
    assert tg.edits[-1]["message_id"] == tg.messages[0]["message_id"]


async def test_near_duplicate_staff_set_is_a_sighting_not_a_page(db_dsn, tmp_path):
    """A re-post trimmed to most of the same staff (different text) folds into the alert."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[70:80], Severity.HIGH)
            await add_finding(conn, cfg, ROWS[70:78], Severity.HIGH, source="gists")  # 8 of 10: Jaccard 0.8
            await add_finding(conn, cfg, ROWS[70:80], Severity.HIGH, source="feeds")  # same set, new text
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: tg.messages, what="the page")
                await asyncio.sleep(0.5)
            a = await conn.fetchrow("SELECT * FROM alerts")
            n = await conn.fetchval("SELECT count(*) FROM alerts")
            pages = await outbox_rows(conn, kind="page", channel="telegram")
    assert n == 1 and a["seen_count"] == 3
    assert len(pages) == 1 and len(tg.messages) == 1
    assert "Seen 3 times; again on feeds" in tg.messages[0]["text"]


async def test_follow_up_pages_when_severity_rises_or_new_staff_appear(db_dsn, tmp_path):
    """A follow-up is sent when the same leak turns critical, and when it grows by new staff."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[80:90], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.messages) == 1, what="the page")
                await add_finding(conn, cfg, ROWS[80:90], Severity.CRITICAL, source="gists")
                await tg.wait_for(lambda: len(tg.messages) == 1 + len(CHATS["critical"]), what="the follow-up")
                await add_finding(conn, cfg, ROWS[80:92], Severity.CRITICAL, source="feeds")  # 2 new: J = 10/12
                await tg.wait_for(lambda: len(tg.messages) == 1 + 2 * len(CHATS["critical"]),
                                  what="the second follow-up")
                await asyncio.sleep(0.3)
            alert = await conn.fetchrow("SELECT * FROM alerts")
    assert len(tg.messages) == 1 + 2 * len(CHATS["critical"])
    rose = [m for m in tg.messages if "severity raised from high to critical" in m["text"]]
    grew = [m for m in tg.messages if "2 more staff" in m["text"]]
    assert sorted(m["chat_id"] for m in rose) == CHATS["critical"]
    assert sorted(m["chat_id"] for m in grew) == CHATS["critical"]
    assert alert["severity"] == Severity.CRITICAL and len(alert["staff"]) > 0
    assert "12 staff members" in grew[0]["text"]



async def test_a_different_leak_pages_again(db_dsn, tmp_path):
    """Disjoint staff are another leak: another alert and another page."""
    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[92:96], Severity.HIGH)
            await add_finding(conn, cfg, ROWS[96:100], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.messages) == 2, what="two pages")
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM alerts ORDER BY id")]
    assert len(ids) == 2
    assert sorted(int(m["text"].split("alert #")[1].split("\n")[0]) for m in tg.messages) == ids


async def test_finding_and_page_are_one_transaction(db_dsn, tmp_path):
    """If the finding's transaction rolls back, neither the alert nor its page remains."""
    cfg = make_cfg(tmp_path, "http://127.0.0.1:9")
    async with connect(db_dsn) as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await add_finding(conn, cfg, ROWS[100:104], Severity.CRITICAL)
                assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
                raise RuntimeError("the match worker died before commit")
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_supplier_listed_on_two_trackers_pages_once(db_dsn, tmp_path):
    """The same supplier posting seen on ransomwatch and ransomware.live is one alert, one page."""
    import uuid

    from leakwatch.alerts import finding_hook
    from leakwatch.db.pipeline import claim_jobs, ensure_source, finish_job, store_poll
    from leakwatch.models import Item

    async def supplier_finding(conn, cfg, source: str) -> int:
        await ensure_source(conn, source, source)
        body = f"ransomware group: synthgroup\nvictim: Northgate Card Systems Ltd\n-- {uuid.uuid4().hex}\n"
        await store_poll(conn, source, [Item(uuid.uuid4().hex, body.encode(), "post.txt", None)], None)
        (job,) = await claim_jobs(conn, "test-matcher", 1, 60)
        result = {"severity": int(Severity.HIGH), "score": 0.0, "staff": [], "credentials": [],
                  "reasons": ["a supplier on the watch list (Northgate Card Systems) named on a ransomware "
                              "leak site (group: synthgroup)", "severity: a supplier named on a ransomware leak site"],
                  "parts": [], "rejections": []}
        return await finish_job(conn, job, "test-matcher", result, severity=int(Severity.HIGH),
                                on_finding=finding_hook(cfg))

    async with fake_telegram() as tg:
        cfg = make_cfg(tmp_path, tg.url)
        async with connect(db_dsn) as conn:
            await supplier_finding(conn, cfg, "ransomwatch")
            await supplier_finding(conn, cfg, "ransomware_live")
            async with notifier(cfg, db_dsn):
                await tg.wait_for(lambda: len(tg.messages) >= 1, what="the page")
                await asyncio.sleep(1.0)  # room for a second page, were one queued
            alerts = await conn.fetch("SELECT id, seen_count FROM alerts")
    assert len(alerts) == 1 and alerts[0]["seen_count"] == 2
    assert len(tg.messages) == 1
