"""`leakwatch demo` as users run it: the watcher catches the synthetic leak and pages it."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from fakes.telegram import TOKEN, fake_telegram, page_redaction  # noqa: F401

pytestmark = pytest.mark.slow


async def test_demo_catches_the_leak_prints_the_page_and_sends_it_when_telegram_is_configured(
        db_dsn, tmp_path, page_redaction):
    token_file = tmp_path / "telegram-token"
    token_file.write_text(TOKEN + "\n")
    async with fake_telegram() as tg:
        cfg = tmp_path / "leakwatch.toml"
        cfg.write_text(f'[telegram]\napi_url = "{tg.url}"\ntoken_file = "{token_file}"\n'
                       'chats = {{ critical = [7001], high = [7001], ops = [7003] }}\n'.replace("{{", "{").replace("}}", "}"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKWATCH_")}
        env.update({"DATABASE_URL": db_dsn, "LEAKWATCH_CONFIG": str(cfg)})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "leakwatch.cli", "demo", "--dir", str(tmp_path / "demo"), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 240)
        text = out.decode()
        assert proc.returncode == 0, text[-3000:]
        assert "caught it" in text and "/healthz" in text and "/metrics" in text
        assert "the page (sent to the configured chats)" in text and "CRITICAL: police staff data exposed" in text
        sent = [c for c in tg.calls_of("sendMessage") if "CRITICAL" in str(c.params.get("text", ""))]
        assert sent and all(int(c.params["chat_id"]) == 7001 for c in sent)
        assert "0 page(s) still queued" in text
