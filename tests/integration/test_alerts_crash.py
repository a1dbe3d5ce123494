"""kill -9 of the relay between send and record: delivered at least once, a duplicate is marked."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from alerts_support import ROWS, add_finding, connect, make_cfg, outbox_rows, wait_until
from fakes.telegram import TOKEN, fake_telegram, page_redaction  # noqa: F401
from leakwatch.models import Severity

pytestmark = pytest.mark.usefixtures("page_redaction")

ROOT = Path(__file__).resolve().parents[2]
RUN_NOTIFIER = """
import asyncio, signal, sys
from leakwatch.alerts import run_notifier
from leakwatch.config import load_config
from leakwatch.log import setup_logging

cfg = load_config(sys.argv[1], env={})
setup_logging("json", "info")

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_notifier(cfg, sys.argv[2], stop)

asyncio.run(main())
"""


async def start(cfg_path: Path, dsn: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKWATCH_")}
    return await asyncio.create_subprocess_exec(sys.executable, "-c", RUN_NOTIFIER, str(cfg_path), dsn, cwd=ROOT,
                                                env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)


async def kill(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGKILL)
    out, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return (out + err).decode()


async def stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-2000:]
    return (out + err).decode()


def config_file(tmp_path: Path, url: str) -> Path:
    make_cfg(tmp_path, url)  # validates and writes the token file
    return sorted(tmp_path.glob("leakwatch-*.toml"))[-1]


async def test_killed_while_telegram_holds_the_send_open(db_dsn, tmp_path):
    """SIGKILL while sendMessage is in flight (Telegram has it): the next relay resends it,
    marked as a possible duplicate of the first."""
    async with fake_telegram() as tg:
        path = config_file(tmp_path, tg.url)
        tg.fault("sendMessage", "hold")
        async with connect(db_dsn) as conn:
            await add_finding(conn, make_cfg(tmp_path, tg.url), ROWS[0:5], Severity.HIGH)
            first = await start(path, db_dsn)
            await tg.wait_for(lambda: tg.messages, timeout=20, what="the first send")
            logs = await kill(first)
            tg.released.set()
            second = await start(path, db_dsn)
            await tg.wait_for(lambda: len(tg.messages) >= 2, timeout=20, what="the resend")
            await asyncio.sleep(0.3)
            logs += await stop(second)
            rows = await outbox_rows(conn, channel="telegram")
    assert len(tg.messages) == 2
    assert [(r["state"], r["possible_duplicate_of"]) for r in rows] == [("unconfirmed", None),
                                                                         ("sent", rows[0]["id"])]
    assert tg.messages[1]["text"].startswith(f"\u26a0 Possible duplicate of message #{rows[0]['id']}")
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs


async def test_killed_after_telegram_answered_before_the_record(db_dsn, tmp_path):
    """SIGKILL after Telegram answered but before the relay recorded it (its update is held by a
    row lock): delivered once by the first relay, once more by the next, and that one is marked."""
    async with fake_telegram() as tg:
        path = config_file(tmp_path, tg.url)
        tg.fault("sendMessage", "hold")
        async with connect(db_dsn) as conn, connect(db_dsn) as blocker:
            await add_finding(conn, make_cfg(tmp_path, tg.url), ROWS[5:10], Severity.HIGH)
            first = await start(path, db_dsn)
            await tg.wait_for(lambda: tg.messages, timeout=20, what="the first send")
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("SELECT id FROM outbox WHERE state = 'sending' FOR UPDATE")
            tg.released.set()  # Telegram answers now; the relay's record waits on the lock
            await wait_until(lambda: conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%outbox%'"),
                timeout=10, what="the relay blocked recording the send")
            await kill(first)
            await tx.rollback()
            second = await start(path, db_dsn)
            await tg.wait_for(lambda: len(tg.messages) >= 2, timeout=20, what="the resend")
            await asyncio.sleep(0.3)
            await stop(second)
            rows = await outbox_rows(conn, channel="telegram")
    assert len(tg.messages) == 2 and "Possible duplicate" in tg.messages[1]["text"]
    assert [r["state"] for r in rows] == ["unconfirmed", "sent"]
