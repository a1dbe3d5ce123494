"""Helpers for the alerts tests: synthetic findings through the real pipeline functions, a
configuration pointed at a fake Telegram, and the notifier run as the daemon runs it."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from fakes.telegram import TOKEN, register_roster
from leakwatch.alerts import finding_hook, run_notifier
from leakwatch.config import load_config
from leakwatch.db.pipeline import claim_jobs, earlier_result, ensure_source, finish_job, store_poll
from leakwatch.keys import Hasher
from leakwatch.models import Item, Severity
from synthetic import make_rows

ROWS = make_rows(120, seed=515)  # made-up staff; their plaintext must never reach a page
register_roster(ROWS)
HASHER = Hasher(bytes(range(32)))

ALLOWED = 4242  # a Telegram user on the allow-list
STRANGER = 6666  # one who is not
CHATS = {"critical": [7001, 7002], "high": [7001], "ops": [7003], "escalation": [7004]}

FAST_ALERTS = {"retry_min_seconds": 0.05, "retry_max_seconds": 0.3, "check_seconds": 0.2, "poll_seconds": 0.2,
               "escalate_after_minutes": 60, "operator_every_minutes": 30}


def ref(row) -> str:
    return HASHER.ref(row.staff_id)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def make_cfg(tmp_path: Path, api_url: str | None, *, telegram: dict | None = None, alerts: dict | None = None,
             public_url: str = "https://leakwatch.example", pipeline: dict | None = None):
    """A real configuration file, loaded and validated as at start. api_url None: no [telegram]."""
    token_file = tmp_path / "telegram-token"
    token_file.write_text(TOKEN + "\n")
    lines = ['log_format = "json"', "", "[web]", f"public_url = {_toml(public_url)}", ""]
    if pipeline:
        lines += ["[pipeline]"] + [f"{k} = {_toml(v)}" for k, v in pipeline.items()] + [""]
    if api_url is not None:
        tg = {"api_url": api_url, "token_file": str(token_file), "chats": CHATS, "allowed_users": [ALLOWED],
              "request_timeout": 2.0, "poll_timeout": 2, **(telegram or {})}
        lines += ["[telegram]"] + [f"{k} = {_toml(v)}" for k, v in tg.items() if v is not None] + [""]
    al = {**FAST_ALERTS, **(alerts or {})}
    lines += ["[alerts]"] + [f"{k} = {_toml(v)}" for k, v in al.items() if v is not None] + [""]
    path = tmp_path / f"leakwatch-{uuid.uuid4().hex[:6]}.toml"
    path.write_text("\n".join(lines))
    return load_config(path, env={})


def leak_body(staff) -> bytes:
    """A synthetic leak: the staff's names, ranks, pay numbers and addresses, as a paste has them."""
    lines = ["Surname, Forename | Rank | Pay No | Email"]
    lines += [f"{r.surname}, {r.forenames} | {r.rank} | {r.pay_number} | {r.email}" for r in staff]
    return ("\n".join(lines) + f"\n-- {uuid.uuid4().hex}\n").encode()


async def add_finding(conn, cfg, staff, severity: Severity, *, creds: int = 0, source: str = "pastebin",
                      url: str | None = "https://paste.example/raw/AbCdEf", body: bytes | None = None,
                      kinds=("name", "pay_number")) -> int:
    """Store a document and finish its match job with this finding, as the match stage does
    (the alerts hook runs inside the finding's transaction). Returns the finding id."""
    await ensure_source(conn, source, source)
    body = body if body is not None else leak_body(staff)
    await store_poll(conn, source, [Item(uuid.uuid4().hex, body, "paste.txt", url)], None)
    (job,) = await claim_jobs(conn, "test-matcher", 1, 60)
    hook = finding_hook(cfg)
    prev = await earlier_result(conn, job)
    if prev is not None and prev["finding_id"] is not None:
        return await finish_job(conn, job, "test-matcher", None, severity=prev["severity"],
                                duplicate_of_job=prev["job_id"], duplicate_of_finding=prev["finding_id"],
                                on_finding=hook)
    result = {
        "severity": int(severity), "score": 12.5,
        "staff": [{"ref": ref(r), "kinds": list(kinds), "confidence": 0.97, "rank": r.rank, "unit": r.unit,
                   "sensitive": r.unit == "Counter Terrorism Command", "leaver": False} for r in staff],
        "credentials": [{"address": f"{r.email[0]}***@force.example.police.uk", "kind": "password", "ref": ref(r),
                         "where": f"line {i + 2}"} for i, r in enumerate(staff[:creds])],
        "reasons": [f"{len(staff)} staff members in a {len(staff)}-row table",
                    "severity: " + ("bulk leak" if severity >= Severity.CRITICAL else "staff with identifiers")],
        "parts": [], "rejections": [],
    }
    return await finish_job(conn, job, "test-matcher", result, severity=int(severity), on_finding=hook)


@asynccontextmanager
async def connect(dsn: str):
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


@asynccontextmanager
async def notifier(cfg, dsn: str, copies: int = 1):
    """run_notifier as the daemon runs it (`copies` replicas); on exit, stop and check that each
    returned within a few seconds without raising."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_notifier(cfg, dsn, stop)) for _ in range(copies)]
    try:
        yield tasks
    finally:
        stop.set()
        started = time.monotonic()
        done, pending = await asyncio.wait(tasks, timeout=20)
        for t in pending:
            t.cancel()
        assert not pending, "run_notifier did not return after stop was set"
        for t in done:
            t.result()
        assert time.monotonic() - started < 20


async def wait_until(predicate, timeout: float = 10.0, what: str = "condition", step: float = 0.05):
    """Poll an async or plain predicate until true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


async def outbox_rows(conn, **where) -> list[dict]:
    rows = [dict(r) for r in await conn.fetch("SELECT * FROM outbox ORDER BY id")]
    return [r for r in rows if all(r[k] == v for k, v in where.items())]
