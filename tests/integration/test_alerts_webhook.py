"""Without Telegram: pages go to a signed JSON webhook (a SIEM or SOAR) and to the log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging

import pytest
from aiohttp import web

from alerts_support import ROWS, add_finding, connect, make_cfg, notifier, outbox_rows, ref
from fakes import serve
from fakes.telegram import TEXTS, page_redaction  # noqa: F401
from leakwatch.models import Severity

pytestmark = pytest.mark.usefixtures("page_redaction")

SECRET = "siem-shared-secret-0123"


class Siem:
    """A receiver that checks X-Leakwatch-Signature as a SIEM would, and can fail on purpose."""

    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.received: list[dict] = []
        self.verdicts: list[bool] = []
        self.answers: list[int] = []  # statuses to give, in order; then 200

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        given = request.headers.get("X-Leakwatch-Signature", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        self.verdicts.append(hmac.compare_digest(given, expected))
        TEXTS.append(body.decode())  # the whole payload is held to the no-plaintext rule
        if not self.verdicts[-1]:
            return web.Response(status=401)
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.received.append(json.loads(body))
        return web.Response(status=status)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app


def secret_file(tmp_path):
    path = tmp_path / "webhook-secret"
    path.write_text(SECRET + "\n")
    return str(path)


async def test_pages_are_posted_signed_to_the_webhook(db_dsn, tmp_path):
    """Each page is a JSON POST whose HMAC-SHA256 signature the receiver verifies; it holds refs,
    counts and the page text, no names or numbers."""
    siem = Siem()
    async with serve(siem.app()) as url:
        cfg = make_cfg(tmp_path, None, alerts={"webhook_url": f"{url}/hook", "webhook_secret_file": secret_file(tmp_path)})
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[0:5], Severity.CRITICAL, creds=1)
            async with notifier(cfg, db_dsn):
                await asyncio.wait_for(_until(lambda: siem.received), 10)
                await asyncio.sleep(0.3)
            alert_id = await conn.fetchval("SELECT id FROM alerts")
    assert siem.verdicts == [True] and len(siem.received) == 1
    got = siem.received[0]
    assert got["kind"] == "page" and got["audience"] == "critical" and got["possible_duplicate_of"] is None
    assert got["alert"]["id"] == alert_id and got["alert"]["severity"] == "critical"
    assert got["alert"]["refs"] == [ref(r) for r in ROWS[0:5]] and got["alert"]["credentials"] == 1
    assert got["alert"]["link"] == f"https://leakwatch.example/alerts/{alert_id}"
    assert f"alert #{alert_id}" in got["text"]


async def test_a_receiver_with_another_secret_refuses_the_page(db_dsn, tmp_path):
    """The signature is what the receiver checks: with another secret it refuses (401, dead)."""
    siem = Siem(secret="not-the-configured-secret")
    async with serve(siem.app()) as url:
        cfg = make_cfg(tmp_path, None, alerts={"webhook_url": f"{url}/hook", "webhook_secret_file": secret_file(tmp_path)})
        async with connect(db_dsn) as conn:
            await add_finding(conn, cfg, ROWS[14:17], Severity.HIGH)
            async with notifier(cfg, db_dsn):
                await asyncio.wait_for(_until(lambda: siem.verdicts), 10)
                await asyncio.sleep(0.3)
            rows = await outbox_rows(conn, channel="webhook", kind="page")
    assert siem.verdicts and not any(siem.verdicts) and siem.received == []  # the page, and the operator alert about it
    assert [(r["state"], r["last_error"]) for r in rows] == [("dead", "webhook answered 401")]


async def test_webhook_errors_retry_and_refusals_go_dead(db_dsn, tmp_path):
    """A 503 is retried; a 400 is final (dead) and reported."""
    siem = Siem()
    siem.answers = [503, 200, 400]
    async with serve(siem.app()) as url:
        cfg = make_cfg(tmp_path, None, alerts={"webhook_url": f"{url}/hook", "webhook_secret_file": secret_file(tmp_path)})
        async with connect(db_dsn) as conn:
            async with notifier(cfg, db_dsn):
                await add_finding(conn, cfg, ROWS[5:8], Severity.HIGH)
                await asyncio.wait_for(_until(lambda: siem.received), 10)
                await add_finding(conn, cfg, ROWS[8:11], Severity.HIGH)
                await asyncio.wait_for(_until(lambda: len(siem.verdicts) >= 3), 10)
                await asyncio.sleep(0.5)
            rows = await outbox_rows(conn, channel="webhook", kind="page")
    assert [r["state"] for r in rows] == ["sent", "dead"]
    assert rows[0]["attempts"] == 2 and rows[1]["last_error"] == "webhook answered 400"


async def test_with_no_channel_configured_pages_go_to_the_log(db_dsn, tmp_path, caplog):
    """Neither Telegram nor a webhook: the page is a log event, and marked sent."""
    cfg = make_cfg(tmp_path, None)
    caplog.set_level(logging.INFO, logger="leakwatch")
    async with connect(db_dsn) as conn:
        await add_finding(conn, cfg, ROWS[11:14], Severity.HIGH)
        async with notifier(cfg, db_dsn):
            await asyncio.wait_for(_until(lambda: [r for r in caplog.records if r.getMessage() == "page"]), 10)
        rows = await outbox_rows(conn, channel="log")
    pages = [r for r in caplog.records if r.getMessage() == "page"]
    TEXTS.extend(r.fields["text"] for r in pages)
    assert len(pages) == 1 and "HIGH: police staff data exposed" in pages[0].fields["text"]
    assert [r["state"] for r in rows] == ["sent"]


async def _until(predicate):
    while not predicate():
        await asyncio.sleep(0.05)
    return True
