"""Paging: the outbox relay, Telegram (the only module that imports python-telegram-bot),
acknowledgements, escalation, operator alerts and the generic webhook channel.

What the lead wires:

* `validate(cfg)` at start: raises ConfigError naming the setting.
* `finding_hook(cfg)`: the `on_finding(conn, finding_id)` callable for
  `leakwatch.db.pipeline.finish_job`, bound to `[alerts]` thresholds.
* `run_notifier(cfg, dsn, stop)`: relay + Telegram update leader + escalation + operator
  checks, until `stop` is set. Never raises on Telegram, network or Postgres failures.
* `webhook_routes(cfg, dsn)`: aiohttp routes for Telegram's webhook, when
  `[telegram] updates = "webhook"`.
* `render_page(alert_like)`: the text of a page (the demo prints it).

Delivery is at least once and never silently twice: a send whose fate is unknown (a read
timeout, a dropped connection, a relay killed between send and record) is sent again with a
"possible duplicate" line. Start-up never waits for Telegram: no getMe, no polling loop that
owns the process; pages wait in the outbox until Telegram answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import hmac
import json
import logging
import os
import random
import re
import re
import time
import uuid
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import aiohttp
from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import (BadRequest, ChatMigrated, Conflict, EndPointNotFound, Forbidden, InvalidToken,
                            NetworkError, RetryAfter, TelegramError, TimedOut)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from leakwatch.aio import sleep_or_stop
from leakwatch.db import outbox
from leakwatch.db.pipeline import queue_stats, source_health
from leakwatch.errors import ConfigError
from leakwatch.log import event
from leakwatch.metrics import REGISTRY
from leakwatch.models import Finding, Severity

log = logging.getLogger("leakwatch.alerts")

SENT = Counter("leakwatch_alerts_sent", "Messages delivered, by channel and kind", ["channel", "kind"],
               registry=REGISTRY)
FAILED = Counter("leakwatch_alerts_failed", "Failed sends, by channel and outcome (retry, rate_limited, "
                 "unconfirmed, dead)", ["channel", "outcome"], registry=REGISTRY)
PAGE_LATENCY = Histogram("leakwatch_alert_page_seconds", "Time from an alert's page being queued to its delivery",
                         buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200), registry=REGISTRY)
OUTBOX_PENDING = Gauge("leakwatch_outbox_pending", "Outbox rows waiting to be sent", registry=REGISTRY)
OUTBOX_DEAD = Gauge("leakwatch_outbox_dead", "Outbox rows that will not be retried", registry=REGISTRY)
OUTBOX_OLDEST = Gauge("leakwatch_outbox_oldest_seconds", "Age of the oldest unsent outbox row", registry=REGISTRY)
ACTIONS = Counter("leakwatch_alert_actions", "Buttons and commands, by action and outcome (changed, repeat, "
                  "denied)", ["action", "outcome"], registry=REGISTRY)

AUDIENCES = ("critical", "high", "ops", "escalation")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
_CALLBACK = re.compile(r"^lw:(ack|fp|esc):(\d{1,18})$")
_BUTTON_ACTION = {"ack": "acknowledge", "fp": "false_positive", "esc": "escalate"}
LEASE_SECONDS = 120.0  # a 'sending' row older than this belongs to a relay that is gone
SHUTDOWN_GRACE = 4.0  # seconds in-flight sends may take after `stop` before they are cut off
UPDATES_LOCK = "telegram.updates"
RELAY_LOCK = "relay"
OFFSET_KEY = "update_offset"


# =========================================================================== settings

@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)
    api_url: str = "https://api.telegram.org"
    chats: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # every audience, fallbacks applied
    allowed_users: frozenset[int] = frozenset()
    updates: str = "polling"  # polling | webhook | off
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    request_timeout: float = 10.0  # seconds to wait for Telegram's answer to one call
    poll_timeout: int = 25  # seconds a getUpdates long poll is held open
    rate_per_second: float = 30.0  # all messages of the bot
    group_per_minute: float = 20.0  # messages to one group chat


@dataclass(frozen=True)
class AlertSettings:
    page_threshold: Severity = Severity.HIGH
    escalate_after_minutes: float = 15.0
    escalate_max: int = 3
    operator_every_minutes: float = 30.0
    source_silent_minutes: float = 60.0
    repost_window_days: int = 30
    repost_similarity: float = 0.6
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_timeout: float = 10.0
    retry_min_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    relay_batch: int = 8
    check_seconds: float = 15.0
    poll_seconds: float = 1.0


@dataclass(frozen=True)
class Settings:
    telegram: TelegramSettings | None
    alerts: AlertSettings
    public_url: str = ""
    backlog_alert: int = 1000
    source_failures_alert: int = 5
    sources: frozenset[str] = frozenset()  # configured source names; empty: every row of `sources`

    def routes(self) -> list[tuple[str, str, int | None]]:
        """(audience, channel, chat) for every destination of every audience."""
        out: list[tuple[str, str, int | None]] = []
        for aud in AUDIENCES:
            if self.telegram is not None:
                out += [(aud, "telegram", chat) for chat in self.telegram.chats[aud]]
            if self.telegram is None:
                out.append((aud, "log", None))
            if self.alerts.webhook_url:
                out.append((aud, "webhook", None))
        return out


_TELEGRAM_KEYS = {"api_url", "token_file", "chats", "allowed_users", "updates", "webhook_url",
                  "webhook_secret_file", "request_timeout", "poll_timeout", "rate_per_second", "group_per_minute"}
_ALERT_KEYS = {"page_threshold", "escalate_after_minutes", "escalate_max", "operator_every_minutes",
               "source_silent_minutes", "repost_window_days", "repost_similarity", "webhook_url",
               "webhook_secret_file", "webhook_timeout", "retry_min_seconds", "retry_max_seconds", "relay_batch",
               "check_seconds", "poll_seconds"}


def _with_env(section: str, raw: dict | None, keys: set[str], env: Mapping[str, str]) -> dict | None:
    """`LEAKWATCH_<SECTION>_<KEY>` overrides a scalar key of the section (as for the other sections)."""
    out = dict(raw or {})
    found = False
    for key in keys - {"chats"}:
        name = f"LEAKWATCH_{section.upper()}_{key.upper()}"
        if name in env:
            out[key] = env[name]
            found = True
    return out if (raw is not None or found) else None


def _number(where: str, value: Any, *, kind=float, low: float | None = None, high: float | None = None):
    try:
        if isinstance(value, bool):
            raise ValueError
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        v = kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a {'whole ' if kind is int else ''}number, got {value!r}") from None
    if (low is not None and v < low) or (high is not None and v > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{where}: must be {bounds} (got {v})")
    return v


def _read_secret(where: str, path: Any) -> str:
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: expected a file path")
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found ({path})") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    if not text:
        raise ConfigError(f"{where}: file is empty ({path})")
    return text


def _url(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a URL string")
    value = value.strip().rstrip("/")
    if value and not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{where}: {value!r} is not an http(s) URL")
    return value


def _chat_ids(where: str, value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, str)) or not re.fullmatch(r"-?\d{1,16}", str(v).strip()):
            raise ConfigError(f"{where}: chat ids are whole numbers (got {v!r})")
        out.append(int(v))
    return tuple(out)


def _telegram_settings(raw: dict, public_url: str) -> TelegramSettings:
    for key in raw:
        if key not in _TELEGRAM_KEYS:
            raise ConfigError(f"[telegram] {key}: unknown setting (known: {', '.join(sorted(_TELEGRAM_KEYS))})")
    if "token_file" not in raw:
        raise ConfigError("[telegram] token_file: required (a file holding the bot token)")
    token = _read_secret("[telegram] token_file", raw["token_file"])
    if not _TOKEN.match(token):
        raise ConfigError("[telegram] token_file: the file does not hold a bot token (expected digits, ':' and "
                          "the secret part, as BotFather gives it)")
    chats_raw = raw.get("chats")
    if not isinstance(chats_raw, dict):
        raise ConfigError("[telegram] chats: required, a table such as { critical = [-1001], high = [-1001], "
                          "ops = [-1002] }")
    chats: dict[str, tuple[int, ...]] = {}
    for key, value in chats_raw.items():
        if key not in AUDIENCES:
            raise ConfigError(f"[telegram] chats.{key}: unknown audience (known: {', '.join(AUDIENCES)})")
        chats[key] = _chat_ids(f"[telegram] chats.{key}", value)
    if not chats.get("high") and not chats.get("critical"):
        raise ConfigError("[telegram] chats: needs at least `high` or `critical` chat ids")
    chats.setdefault("high", chats.get("critical", ()))
    chats["high"] = chats["high"] or chats["critical"]
    chats["critical"] = chats.get("critical") or chats["high"]
    chats["escalation"] = chats.get("escalation") or chats["critical"]
    chats["ops"] = chats.get("ops") or chats["high"]
    allowed_raw = raw.get("allowed_users", [])
    if isinstance(allowed_raw, str):
        allowed_raw = [v for v in allowed_raw.split(",") if v.strip()]
    allowed = frozenset(_chat_ids("[telegram] allowed_users", allowed_raw)) if allowed_raw else frozenset()
    if any(u <= 0 for u in allowed):
        raise ConfigError("[telegram] allowed_users: Telegram user ids are positive whole numbers")
    updates = raw.get("updates", "polling")
    if updates not in ("polling", "webhook", "off"):
        raise ConfigError(f"[telegram] updates: {updates!r} is not one of polling, webhook, off")
    webhook_url = _url("[telegram] webhook_url", raw.get("webhook_url", ""))
    secret = ""
    if updates == "webhook":
        if not webhook_url:
            if not public_url:
                raise ConfigError("[telegram] webhook_url: required with updates = \"webhook\" when [web] "
                                  "public_url is not set")
            webhook_url = public_url.rstrip("/") + "/telegram/webhook"
        official = not raw.get("api_url") or "api.telegram.org" in str(raw.get("api_url"))
        if official and not webhook_url.startswith("https://"):
            # A self-hosted Bot API server may call http; Telegram's own calls https only.
            raise ConfigError("[telegram] webhook_url: Telegram delivers webhooks to https URLs only")
        secret = _read_secret("[telegram] webhook_secret_file", raw.get("webhook_secret_file"))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ConfigError("[telegram] webhook_secret_file: the secret must be 1-256 characters of A-Z, a-z, "
                              "0-9, _ and -")
    return TelegramSettings(
        token=token,
        api_url=_url("[telegram] api_url", raw.get("api_url", "https://api.telegram.org")) or "https://api.telegram.org",
        chats=chats, allowed_users=allowed, updates=updates, webhook_url=webhook_url, webhook_secret=secret,
        request_timeout=_number("[telegram] request_timeout", raw.get("request_timeout", 10.0), low=0.1),
        poll_timeout=_number("[telegram] poll_timeout", raw.get("poll_timeout", 25), kind=int, low=0, high=50),
        rate_per_second=_number("[telegram] rate_per_second", raw.get("rate_per_second", 30.0), low=0),
        group_per_minute=_number("[telegram] group_per_minute", raw.get("group_per_minute", 20.0), low=0),
    )


def _alert_settings(raw: dict, secrets: bool = True) -> AlertSettings:
    for key in raw:
        if key not in _ALERT_KEYS:
            raise ConfigError(f"[alerts] {key}: unknown setting (known: {', '.join(sorted(_ALERT_KEYS))})")
    d = AlertSettings()
    try:
        threshold = Severity.parse(str(raw.get("page_threshold", "high")))
    except ValueError as exc:
        raise ConfigError(f"[alerts] page_threshold: {exc}") from None
    if threshold < Severity.MEDIUM:
        raise ConfigError("[alerts] page_threshold: must be medium, high or critical")
    webhook_url = _url("[alerts] webhook_url", raw.get("webhook_url", ""))
    secret = ""
    if webhook_url and secrets:
        secret = _read_secret("[alerts] webhook_secret_file", raw.get("webhook_secret_file"))
    elif not webhook_url and raw.get("webhook_secret_file"):
        raise ConfigError("[alerts] webhook_secret_file: set, but [alerts] webhook_url is not")
    retry_min = _number("[alerts] retry_min_seconds", raw.get("retry_min_seconds", d.retry_min_seconds), low=0.01)
    retry_max = _number("[alerts] retry_max_seconds", raw.get("retry_max_seconds", d.retry_max_seconds), low=0.01)
    if retry_max < retry_min:
        raise ConfigError("[alerts] retry_max_seconds: must be at least retry_min_seconds")
    return AlertSettings(
        page_threshold=threshold,
        escalate_after_minutes=_number("[alerts] escalate_after_minutes",
                                       raw.get("escalate_after_minutes", d.escalate_after_minutes), low=0.001),
        escalate_max=_number("[alerts] escalate_max", raw.get("escalate_max", d.escalate_max), kind=int, low=0),
        operator_every_minutes=_number("[alerts] operator_every_minutes",
                                       raw.get("operator_every_minutes", d.operator_every_minutes), low=0),
        source_silent_minutes=_number("[alerts] source_silent_minutes",
                                      raw.get("source_silent_minutes", d.source_silent_minutes), low=0.001),
        repost_window_days=_number("[alerts] repost_window_days", raw.get("repost_window_days", d.repost_window_days),
                                   kind=int, low=0),
        repost_similarity=_number("[alerts] repost_similarity", raw.get("repost_similarity", d.repost_similarity),
                                  low=0.01, high=1.0),
        webhook_url=webhook_url, webhook_secret=secret,
        webhook_timeout=_number("[alerts] webhook_timeout", raw.get("webhook_timeout", d.webhook_timeout), low=0.1),
        retry_min_seconds=retry_min, retry_max_seconds=retry_max,
        relay_batch=_number("[alerts] relay_batch", raw.get("relay_batch", d.relay_batch), kind=int, low=1, high=64),
        check_seconds=_number("[alerts] check_seconds", raw.get("check_seconds", d.check_seconds), low=0.01),
        poll_seconds=_number("[alerts] poll_seconds", raw.get("poll_seconds", d.poll_seconds), low=0.01),
    )


def settings(cfg, env: Mapping[str, str] | None = None) -> Settings:
    """The [telegram] and [alerts] settings, checked; raises ConfigError naming the setting."""
    env = os.environ if env is None else env
    public_url = _url("[web] public_url", getattr(cfg.web, "public_url", "") or "")
    tg_raw = _with_env("telegram", cfg.telegram, _TELEGRAM_KEYS, env)
    al_raw = _with_env("alerts", cfg.alerts, _ALERT_KEYS, env) or {}
    telegram = _telegram_settings(tg_raw, public_url) if tg_raw is not None else None
    return Settings(telegram=telegram, alerts=_alert_settings(al_raw), public_url=public_url,
                    backlog_alert=cfg.pipeline.backlog_alert, source_failures_alert=cfg.pipeline.source_failures_alert,
                    sources=frozenset(s["name"] for s in cfg.sources))


def validate(cfg) -> None:
    """Check [telegram] and [alerts] (files exist, ids are ids); raises ConfigError naming the setting."""
    settings(cfg)


def finding_hook(cfg, env: Mapping[str, str] | None = None):
    """The `on_finding(conn, finding_id)` for finish_job, with this configuration's [alerts]
    thresholds. Reads no secret file: the match role need not have the Telegram token."""
    env = os.environ if env is None else env
    a = _alert_settings(_with_env("alerts", cfg.alerts, _ALERT_KEYS, env) or {}, secrets=False)
    return functools.partial(outbox.on_finding, threshold=int(a.page_threshold), similarity=a.repost_similarity,
                             window_days=a.repost_window_days)


# =========================================================================== what a page says

_ICON = {Severity.CRITICAL: "\U0001F534", Severity.HIGH: "\U0001F7E0", Severity.MEDIUM: "\U0001F7E1"}
_KIND_WORDS = {"name": "names", "initial_name": "surnames with initials", "pay_number": "pay numbers",
               "warrant_number": "warrant numbers", "email": "work e-mail addresses"}
_STATE_WORDS = {"open": "OPEN, not acknowledged", "acknowledged": "ACKNOWLEDGED", "false_positive": "FALSE POSITIVE",
                "escalated": "ESCALATED"}
REFS_SHOWN = 12
MAX_TEXT = 4000  # Telegram refuses more than 4096 characters


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _when(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return "unknown"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _clock(value: Any) -> str:
    text = _when(value)
    return text[11:] if text != "unknown" else text


def _counted(tally: Tally, limit: int = 6) -> str:
    items = tally.most_common()
    parts = [f"{k} {n}" for k, n in items[:limit]]
    if len(items) > limit:
        parts.append(f"{len(items) - limit} more")
    return ", ".join(parts)


def _public_url(url: Any) -> str | None:
    if isinstance(url, str) and re.match(r"^https?://[^\s]+$", url):
        return url[:300]
    return None


def _from_finding(f: Finding) -> dict:
    return {"id": None, "severity": f.severity, "staff": list(f.staff), "credentials": len(f.credentials),
            "source": Path(f.source.split("!")[0]).name or "document", "url": None,
            "why": next((r[len("severity: "):] for r in f.reasons if r.startswith("severity: ")), None)}


def render_page(alert_like: Mapping | Finding, *, public_url: str = "", note: str | None = None) -> str:
    """The text of a page: what was found, in words, with refs; never a name, number or address.

    `alert_like` is a row of `alerts` as a mapping (the relay passes those), a hand-made mapping
    with the same keys, or a `leakwatch.models.Finding` (the demo's dry run). Keys read:
    `id` (None: not stored), `severity` (int, name or Severity), `staff` (mappings or
    StaffHit objects with `ref`, `kinds`, `rank`, `unit`, `sensitive`, `leaver`), `credentials`
    (a count or a list), `source`, `url`, `why`, `first_seen`, `last_seen`, `seen_count`,
    `sightings` ([{source, at}]), `state`, `acted_by`, `acted_at`, `escalations`. Missing keys
    are left out of the text. `public_url` is the analyst UI's base ([web] public_url): the page
    links to `{public_url}/alerts/{id}`. `note` is a first line (an update, an escalation).
    """
    a = _from_finding(alert_like) if isinstance(alert_like, Finding) else alert_like
    sev_raw = _get(a, "severity", Severity.HIGH)
    sev = Severity.parse(sev_raw) if isinstance(sev_raw, str) else Severity(int(sev_raw))
    alert_id = _get(a, "id")
    staff = list(_get(a, "staff") or [])
    lines: list[str] = []
    if note:
        lines.append(note)
    title = f"{_ICON.get(sev, '')} {str(sev).upper()}: police staff data exposed".strip()
    lines.append(title + (f" \u00b7 alert #{alert_id}" if alert_id is not None else ""))

    ranks = Tally(str(_get(s, "rank") or "rank not recorded") for s in staff)
    units = Tally(str(_get(s, "unit") or "unit not recorded") for s in staff)
    sensitive = sum(1 for s in staff if _get(s, "sensitive"))
    leavers = sum(1 for s in staff if _get(s, "leaver"))
    if staff:
        what = f"{len(staff)} staff member{'s' if len(staff) != 1 else ''}: {_counted(ranks)}"
        lines.append("What: " + what)
        lines.append("Units: " + _counted(units))
        extra = []
        if sensitive:
            extra.append(f"{sensitive} in sensitive units")
        if leavers:
            extra.append(f"{leavers} leaver{'s' if leavers != 1 else ''}")
        if extra:
            lines.append("Note: " + ", ".join(extra))
        kinds = Tally(k for s in staff for k in (_get(s, "kinds") or []))
        if kinds:
            lines.append("Data: " + ", ".join(f"{_KIND_WORDS.get(k, k.replace('_', ' '))} ({n})"
                                              for k, n in kinds.most_common()))
    else:
        lines.append("What: no staff member identified")
    creds = _get(a, "credentials") or 0
    creds = len(creds) if isinstance(creds, (list, tuple)) else int(creds)
    if creds:
        lines.append(f"Credentials: YES, {creds} password{'s' if creds != 1 else ''} beside force or staff e-mail "
                     "addresses: reset them")
    else:
        lines.append("Credentials: none found")
    why = _get(a, "why")
    if why:
        lines.append(f"Why {str(sev)}: {why}")
    source = _get(a, "source") or "unknown source"
    url = _public_url(_get(a, "url"))
    lines.append(f"Source: {source}" + (f" \u2014 {url}" if url else ""))
    first = _get(a, "first_seen")
    if first is not None:
        lines.append(f"First seen: {_when(first)}")
    seen = int(_get(a, "seen_count") or 1)
    sightings = list(_get(a, "sightings") or [])
    if seen > 1 and sightings:
        last = sightings[-1]
        lines.append(f"Seen {seen} times; again on {_get(last, 'source') or 'a source'} at {_clock(_get(last, 'at'))}")
    if staff:
        first = sorted(staff, key=lambda s: not _get(s, "sensitive"))  # sensitive units' staff first
        refs = [str(_get(s, "ref")) for s in first[:REFS_SHOWN]]
        more = f" (+{len(staff) - REFS_SHOWN} more)" if len(staff) > REFS_SHOWN else ""
        lines.append("Staff refs: " + ", ".join(refs) + more)
    state = _get(a, "state")
    if state:
        text = _STATE_WORDS.get(state, state)
        if state != "open" and _get(a, "acted_by"):
            text += f" by {_get(a, 'acted_by')} at {_clock(_get(a, 'acted_at'))}"
        esc = int(_get(a, "escalations") or 0)
        if esc:
            text += f"; escalated {esc} time{'s' if esc != 1 else ''}"
        lines.append("Status: " + text)
    if public_url and alert_id is not None:
        lines.append(f"{public_url.rstrip('/')}/alerts/{alert_id}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "\u2026"


def _buttons(alert_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Acknowledge", callback_data=f"lw:ack:{alert_id}"),
        InlineKeyboardButton("False positive", callback_data=f"lw:fp:{alert_id}"),
        InlineKeyboardButton("Escalate", callback_data=f"lw:esc:{alert_id}"),
    ]])


def _duplicate_line(of: int) -> str:
    return (f"\u26a0 Possible duplicate of message #{of}: an earlier send was not confirmed "
            "and may have arrived.")


def compose(row: Mapping, alerts: Mapping[int, Mapping], sources: Mapping[int, Mapping], public_url: str
            ) -> tuple[str, bool] | None:
    """The text of an outbox row and whether it carries the alert buttons; None if its alert is gone."""
    kind = row["kind"]
    body, dup = row.get("body"), row.get("possible_duplicate_of")
    if kind == "edit":
        src = sources.get(row["edit_of"]) or {}
        kind, body, dup = src.get("kind", "page"), src.get("body"), src.get("possible_duplicate_of")
    if kind == "operator":
        text = "\u2699 leakwatch operator alert\n" + (body or "")
        return (_duplicate_line(dup) + "\n" + text if dup else text)[:MAX_TEXT], False
    a = alerts.get(row["alert_id"])
    if a is None:
        return None
    notes = []
    if dup:
        notes.append(_duplicate_line(dup))
    if kind == "escalation":
        notes.append("\u23eb " + (body or "Escalation"))
    elif body:
        notes.append(body)
    return render_page(a, public_url=public_url, note="\n".join(notes) or None), True


# =========================================================================== channels

@dataclass(slots=True)
class Outcome:
    """What one send came to: sent, retry (not delivered), unconfirmed (may have arrived), dead, reroute."""

    kind: str
    message_id: int | None = None
    delay: float = 0.0  # retry: wait at least this long (Telegram's retry_after)
    pause_all: bool = False  # retry: the whole relay waits (flood control applies to the bot)
    error: str = ""
    chat: int | None = None  # reroute: the new chat id


class _Started:
    """Set once a send's HTTP request has begun: before that, cutting it off loses nothing."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = False


_started: contextvars.ContextVar[_Started | None] = contextvars.ContextVar("leakwatch_send_started", default=None)


class _TrackedRequest(HTTPXRequest):
    async def do_request(self, *args, **kwargs):
        mark = _started.get()
        if mark is not None:
            mark.value = True
        return await super().do_request(*args, **kwargs)


def _clean(exc: BaseException, token: str = "") -> str:
    text = f"{type(exc).__name__}: {exc}"
    if token:
        text = text.replace(token, "<token>")
    return text[:300]


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int in python-telegram-bot 22 and a timedelta later."""
    value = getattr(exc, "_retry_after", None)
    if not isinstance(value, timedelta):
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _not_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached Telegram: refused or never connected."""
    cause = exc.__cause__
    while cause is not None:
        name = type(cause).__name__
        if name in ("ConnectError", "ConnectTimeout", "PoolTimeout"):
            return True
        cause = cause.__cause__
    return False


def classify(exc: TelegramError, token: str = "") -> Outcome:
    """Map a python-telegram-bot error to what the relay does about it.

    Order matters: TimedOut and BadRequest subclass NetworkError, so a blanket NetworkError
    retry would both duplicate (timeouts) and retry the unretryable (bad requests).
    """
    msg = _clean(exc, token)
    if isinstance(exc, RetryAfter):
        return Outcome("retry", delay=retry_after_seconds(exc), pause_all=True, error=msg)
    if isinstance(exc, ChatMigrated):
        return Outcome("reroute", chat=int(exc.new_chat_id), error=msg)
    if isinstance(exc, (BadRequest, Forbidden, EndPointNotFound)):
        return Outcome("dead", error=msg)
    if isinstance(exc, InvalidToken):
        return Outcome("retry", delay=60.0, pause_all=True, error="InvalidToken: Telegram rejected the bot token")
    if isinstance(exc, (TimedOut, NetworkError)):
        if _not_sent(exc):
            return Outcome("retry", error=msg)
        if exc.__cause__ is None and not isinstance(exc, TimedOut):
            return Outcome("retry", error=msg)  # Telegram answered with an error status: not delivered
        return Outcome("unconfirmed", error=msg)
    if isinstance(exc, Conflict):
        return Outcome("retry", error=msg)
    return Outcome("retry", error=msg)


class TelegramChannel:
    """Sends through python-telegram-bot's ExtBot with AIORateLimiter; never calls getMe."""

    name = "telegram"

    def __init__(self, ts: TelegramSettings):
        self.settings = ts
        timeouts = dict(read_timeout=ts.request_timeout, write_timeout=ts.request_timeout,
                        connect_timeout=min(5.0, ts.request_timeout), pool_timeout=max(5.0, ts.request_timeout))
        self.request = _TrackedRequest(connection_pool_size=64, **timeouts)
        self.updates_request = HTTPXRequest(connection_pool_size=2, read_timeout=ts.poll_timeout + 10.0,
                                            write_timeout=10.0, connect_timeout=5.0, pool_timeout=5.0)
        self.bot = ExtBot(ts.token, base_url=f"{ts.api_url}/bot", base_file_url=f"{ts.api_url}/file/bot",
                          request=self.request, get_updates_request=self.updates_request,
                          rate_limiter=AIORateLimiter(overall_max_rate=ts.rate_per_second, overall_time_period=1,
                                                      group_max_rate=ts.group_per_minute, group_time_period=60,
                                                      max_retries=0))
        self._open = False

    async def start(self) -> None:
        """Open the HTTP clients. No request is made: start-up never waits for Telegram."""
        if not self._open:
            await self.request.initialize()
            await self.updates_request.initialize()
            self._open = True

    async def close(self) -> None:
        if self._open:
            self._open = False
            await self.request.shutdown()
            await self.updates_request.shutdown()

    async def send(self, row: Mapping, text: str, buttons: bool) -> Outcome:
        markup = _buttons(row["alert_id"]) if buttons and row["alert_id"] is not None else None
        try:
            if row["kind"] == "edit":
                await self.bot.edit_message_text(text, chat_id=row["chat"], message_id=row["message_id"],
                                                 reply_markup=markup,
                                                 link_preview_options=LinkPreviewOptions(is_disabled=True))
                return Outcome("sent", message_id=row["message_id"])
            # No link preview: Telegram would fetch the leak's URL and show its content in the chat.
            msg = await self.bot.send_message(row["chat"], text, reply_markup=markup,
                                              link_preview_options=LinkPreviewOptions(is_disabled=True))
            return Outcome("sent", message_id=msg.message_id)
        except BadRequest as exc:
            if row["kind"] == "edit" and "not modified" in str(exc).lower():
                return Outcome("sent", message_id=row["message_id"])
            return classify(exc, self.settings.token)
        except TelegramError as exc:
            return classify(exc, self.settings.token)


def sign(secret: str, body: bytes) -> str:
    """The X-Leakwatch-Signature header value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """JSON POST to a SIEM or SOAR, signed with HMAC-SHA256 (`X-Leakwatch-Signature`)."""

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float, public_url: str):
        self.url, self.secret, self.timeout, self.public_url = url, secret, timeout, public_url
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    def payload(self, row: Mapping, text: str, alert: Mapping | None) -> dict:
        out: dict[str, Any] = {"delivery": row["id"], "kind": row["kind"], "audience": row["audience"],
                               "possible_duplicate_of": row["possible_duplicate_of"], "text": text}
        if alert is not None:
            staff = alert["staff"]
            out["alert"] = {
                "id": alert["id"], "severity": str(Severity(alert["severity"])), "state": alert["state"],
                "staff_count": len(staff), "refs": [s["ref"] for s in staff],
                "ranks": dict(Tally(s.get("rank") or "" for s in staff)),
                "units": dict(Tally(s.get("unit") or "" for s in staff)),
                "sensitive": sum(1 for s in staff if s.get("sensitive")),
                "credentials": alert["credentials"], "source": alert["source"], "url": _public_url(alert["url"]),
                "first_seen": alert["first_seen"].isoformat(timespec="seconds"),
                "last_seen": alert["last_seen"].isoformat(timespec="seconds"),
                "seen_count": alert["seen_count"],
                "link": f"{self.public_url}/alerts/{alert['id']}" if self.public_url else None,
            }
        return out

    async def send(self, row: Mapping, text: str, alert: Mapping | None) -> Outcome:
        await self.start()
        body = json.dumps(self.payload(row, text, alert), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Leakwatch-Signature": sign(self.secret, body),
                   "X-Leakwatch-Delivery": str(row["id"]), "User-Agent": "leakwatch"}
        mark = _started.get()
        try:
            if mark is not None:
                mark.value = True
            async with self.session.post(self.url, data=body, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return Outcome("sent")
                if resp.status == 429 or resp.status == 408 or resp.status >= 500:
                    wait = resp.headers.get("Retry-After", "")
                    return Outcome("retry", delay=float(wait) if wait.isdigit() else 0.0,
                                   error=f"webhook answered {resp.status}")
                return Outcome("dead", error=f"webhook answered {resp.status}")
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            return Outcome("retry", error=f"webhook: {type(exc).__name__}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome("unconfirmed", error=f"webhook: {type(exc).__name__}")


class LogChannel:
    """No Telegram and no webhook configured: the page is a log event (JSON on stdout)."""

    name = "log"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, row: Mapping, text: str, alert: Mapping | None) -> Outcome:
        event(log, "page", logging.WARNING, outbox_id=row["id"], alert_id=row["alert_id"], kind=row["kind"],
              audience=row["audience"], text=text)
        return Outcome("sent")


# =========================================================================== the relay

def backoff(failures: int, low: float, high: float) -> float:
    """Exponential backoff with full jitter: the n-th consecutive failure waits up to low * 2^n.

    Unlike `leakwatch.http.backoff` (uniform from 0) it never waits less than `low`: the
    configured retry_min_seconds is a floor.
    """
    ceiling = min(high, low * (2 ** min(failures, 30)))
    return random.uniform(low, max(low, ceiling))


class Relay:
    """Sends outbox rows: one relay in the cluster at a time (an advisory lock), critical first.

    Up to [alerts] relay_batch sends are in flight (the rate limiter spaces them); a row of lower
    priority is not started while one of higher priority is still in flight, so after an outage
    every critical page reaches Telegram before the first high one.
    """

    def __init__(self, st: Settings, pool, leadership: outbox.Leadership, channels: dict, wake: asyncio.Event,
                 kick: asyncio.Event, owner: str):
        self.st, self.pool, self.leadership, self.channels = st, pool, leadership, channels
        self.wake, self.kick, self.owner = wake, kick, owner
        self.leader = False
        self.failures = 0
        self.paused_until = 0.0  # monotonic: Telegram's flood control or our backoff
        self.inflight: dict[asyncio.Task, int] = {}  # send -> its row's priority

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._loop(stop)
            if self.inflight:  # stopping: let in-flight sends finish for a moment
                await asyncio.wait(list(self.inflight), timeout=SHUTDOWN_GRACE / 2)
        finally:
            for t in self.inflight:
                t.cancel()
            if self.inflight:
                await asyncio.gather(*self.inflight, return_exceptions=True)

    async def _loop(self, stop: asyncio.Event) -> None:
        a = self.st.alerts
        while not stop.is_set():
            self._collect()
            try:
                if not await self.leadership.try_acquire(RELAY_LOCK):
                    if self.leader:
                        event(log, "relay_standby", owner=self.owner)
                    self.leader = False
                    await self._wait_any(stop, max(a.poll_seconds, 0.5), wake=False)  # in-flight sends finish
                    continue
                free = a.relay_batch - len(self.inflight)
                rows: list[dict] = []
                async with self.pool.acquire() as conn:
                    if not self.leader:
                        # Only the lock holder sends, and the lock died with the last holder's
                        # connection: whatever is still 'sending' was left by a relay that is gone.
                        again = await outbox.recover(conn, all_sending=True, owner=self.owner)
                        self.leader = True
                        event(log, "relay_leader", owner=self.owner, requeued=len(again))
                    await outbox.route(conn, self.st.routes())
                    await outbox.recover(conn, all_sending=False, owner=self.owner)
                    pause = self.paused_until - time.monotonic()
                    if pause <= 0 and free > 0:
                        self.wake.clear()
                        floor = max(self.inflight.values(), default=0)
                        rows = await outbox.claim(conn, self.owner, free, LEASE_SECONDS, floor)
                        if rows:
                            alerts, sources = await outbox.render_inputs(conn, rows)
                for r in rows:
                    task = asyncio.create_task(self._deliver(r, alerts, sources, stop))
                    self.inflight[task] = r["priority"]
                if rows and len(rows) == free:
                    timeout = a.poll_seconds  # every slot busy: the next finished send frees one
                else:
                    timeout = pause if pause > 0 else a.poll_seconds
                await self._wait_any(stop, timeout, wake=free > len(rows) and pause <= 0)
            except outbox.TRANSIENT as exc:
                event(log, "relay_database_unavailable", logging.WARNING, error=type(exc).__name__)
                if not self.inflight:
                    self.leader = False
                await sleep_or_stop(stop, backoff(2, a.retry_min_seconds, a.retry_max_seconds))

    async def _wait_any(self, stop: asyncio.Event, timeout: float, wake: bool) -> None:
        waiters = [asyncio.ensure_future(stop.wait())]
        if wake:
            waiters.append(asyncio.ensure_future(self.wake.wait()))
        try:
            await asyncio.wait(waiters + list(self.inflight), timeout=max(0.0, timeout),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _collect(self) -> None:
        done = [t for t in self.inflight if t.done()]
        outcomes = []
        for t in done:
            del self.inflight[t]
            if not t.cancelled() and t.exception() is None:
                outcomes.append(t.result())
            elif not t.cancelled():
                event(log, "relay_send_failed", logging.ERROR, error=type(t.exception()).__name__)
        if outcomes:
            self._after(outcomes)

    def _after(self, outcomes: list[Outcome]) -> None:
        a = self.st.alerts
        now = time.monotonic()
        pauses = [o.delay for o in outcomes if o.kind == "retry" and o.pause_all]
        if pauses:
            self.paused_until = max(self.paused_until, now + max(pauses))
            return
        if any(o.kind == "sent" for o in outcomes):
            self.failures = 0
        if any(o.kind in ("retry", "unconfirmed") for o in outcomes):
            if now >= self.paused_until:  # sends failing together are one failure, not many
                self.failures += 1
            delay = max([backoff(self.failures, a.retry_min_seconds, a.retry_max_seconds)]
                        + [o.delay for o in outcomes if o.kind == "retry"])
            self.paused_until = max(self.paused_until, now + delay)

    async def _deliver(self, row: dict, alerts: dict, sources: dict, stop: asyncio.Event) -> Outcome:
        mark = _Started()
        _started.set(mark)
        composed = compose(row, alerts, sources, self.st.public_url)
        channel = self.channels.get(row["channel"])
        if channel is None:  # queued for a channel this configuration no longer has
            outcome = Outcome("dead", error=f"channel {row['channel']!r} is not configured here")
        elif composed is None:
            outcome = Outcome("dead", error="its alert no longer exists")
        else:
            text, buttons = composed
            try:
                if channel.name == "telegram":
                    outcome = await channel.send(row, text, buttons)
                else:
                    outcome = await channel.send(row, text, alerts.get(row["alert_id"]))
            except asyncio.CancelledError:
                if not mark.value:  # cut off before the request left: nothing can have arrived
                    with contextlib.suppress(Exception):
                        async with self.pool.acquire() as conn:
                            await asyncio.shield(outbox.release(conn, row["id"], self.owner, "relay stopped"))
                raise
        a = alerts.get(row["alert_id"])
        await self._record(row, outcome, stop, a["version"] if a is not None else None)
        return outcome

    async def _record(self, row: dict, o: Outcome, stop: asyncio.Event, rendered: int | None = None) -> None:
        fields = dict(outbox_id=row["id"], alert_id=row["alert_id"], kind=row["kind"], channel=row["channel"],
                      attempt=row["attempts"])
        for attempt in range(1000):
            try:
                async with self.pool.acquire() as conn:
                    if o.kind == "sent":
                        await outbox.mark_sent(conn, row, self.owner, o.message_id, rendered)
                    elif o.kind == "retry":
                        await outbox.release(conn, row["id"], self.owner, o.error, o.delay)
                    elif o.kind == "unconfirmed":
                        copy = await outbox.unconfirmed(conn, row["id"], self.owner, o.error)
                        fields["resend_as"] = copy
                    elif o.kind == "reroute":
                        await outbox.reroute(conn, row["id"], self.owner, o.chat, o.error)
                    else:
                        await outbox.dead(conn, row["id"], self.owner, o.error)
                break
            except outbox.TRANSIENT as exc:
                # Until recorded, the row stays 'sending': if this process dies now, the next relay
                # resends it marked as a possible duplicate. Nothing is lost either way.
                if stop.is_set() and attempt > 3:
                    event(log, "relay_record_abandoned", logging.WARNING, error=type(exc).__name__, **fields)
                    return
                await asyncio.sleep(min(5.0, 0.2 * (attempt + 1)))
        if o.kind == "sent":
            SENT.labels(row["channel"], row["kind"]).inc()
            if row["kind"] in ("page", "follow_up", "escalation"):
                age = (datetime.now(timezone.utc) - row["created_at"]).total_seconds()
                PAGE_LATENCY.observe(max(0.0, age))
            event(log, "alert_sent", **fields)
        else:
            outcome = "rate_limited" if o.pause_all else o.kind
            FAILED.labels(row["channel"], outcome).inc()
            level = logging.ERROR if o.kind == "dead" else logging.WARNING
            event(log, f"alert_{o.kind}" if o.kind != "retry" else "alert_send_failed", level, error=o.error,
                  retry_in=round(o.delay, 3), **fields)
            if o.kind == "dead":
                self.kick.set()


# =========================================================================== updates: buttons, commands

_ALERT_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a bigint ("²" is a digit to str.isdigit)


def _actor(user) -> str:
    if user is None:
        return "someone"
    if getattr(user, "username", None):
        return "@" + user.username
    return (getattr(user, "first_name", None) or "a team member")[:64]


HELP = ("leakwatch commands:\n/status \u2014 sources and open alerts\n/ack ID \u2014 acknowledge alert ID\n"
        "Buttons on a page: Acknowledge, False positive, Escalate.")


class UpdateHandler:
    """Handles Telegram updates (from getUpdates or the webhook): buttons and commands."""

    def __init__(self, st: Settings, pool, channel: TelegramChannel):
        self.st, self.pool, self.channel = st, pool, channel
        self.bot = channel.bot

    def allowed(self, user) -> bool:
        return user is not None and user.id in self.st.telegram.allowed_users

    async def handle(self, update: Update) -> None:
        """Handle one update. Only a database outage propagates (the update is then retried);
        anything else one update causes is logged and the update skipped, so that one odd
        message cannot stop every button and command that comes after it."""
        try:
            if update.callback_query is not None:
                await self._callback(update)
            elif update.effective_message is not None and (update.effective_message.text or "").startswith("/"):
                await self._command(update)
        except outbox.TRANSIENT:
            raise
        except Exception as exc:
            event(log, "telegram_update_failed", logging.ERROR, update_id=update.update_id, error=type(exc).__name__)

    async def _answer(self, query_id: str, text: str, alert: bool = False) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=text[:200], show_alert=alert)
        except TelegramError as exc:  # a query older than Telegram keeps, or Telegram down: the action stands
            event(log, "callback_answer_failed", logging.INFO, error=_clean(exc, self.st.telegram.token))

    async def _reply(self, chat_id: int, text: str) -> None:
        try:
            await self.bot.send_message(chat_id, text[:MAX_TEXT], link_preview_options=LinkPreviewOptions(is_disabled=True))
        except TelegramError as exc:
            event(log, "command_reply_failed", logging.WARNING, error=_clean(exc, self.st.telegram.token))

    async def _callback(self, update: Update) -> None:
        cq = update.callback_query
        m = _CALLBACK.match(cq.data or "")
        if m is None:
            await self._answer(cq.id, "Unknown button.")
            return
        action, alert_id = _BUTTON_ACTION[m.group(1)], int(m.group(2))
        user = cq.from_user
        if not self.allowed(user):
            async with self.pool.acquire() as conn:
                await outbox.record_refusal(conn, alert_id, action, actor=_actor(user),
                                            actor_id=user.id if user else None, via="button",
                                            request_id=f"cq:{cq.id}")
            ACTIONS.labels(action, "denied").inc()
            event(log, "alert_action_denied", logging.WARNING, alert_id=alert_id, action=action,
                  user_id=user.id if user else None)
            await self._answer(cq.id, "You are not on leakwatch's list of people who may act on alerts.", alert=True)
            return
        async with self.pool.acquire() as conn:
            res = await outbox.act(conn, alert_id, action, actor=_actor(user), actor_id=user.id, via="button",
                                   request_id=f"cq:{cq.id}")
        await self._answer(cq.id, self._result_text(alert_id, action, res))

    def _result_text(self, alert_id: int, action: str, res: outbox.ActionResult) -> str:
        words = {"acknowledge": "acknowledged", "false_positive": "marked false positive",
                 "escalate": "escalated"}[action]
        if not res.found:
            ACTIONS.labels(action, "unknown").inc()
            return f"There is no alert #{alert_id}."
        ACTIONS.labels(action, "changed" if res.changed else "repeat").inc()
        if res.changed:
            event(log, "alert_action", alert_id=alert_id, action=action, from_state=res.from_state,
                  to_state=res.to_state)
            return f"Alert #{alert_id} {words}."
        return f"Alert #{alert_id} was already {_STATE_WORDS.get(res.to_state, res.to_state).lower()}."

    async def _command(self, update: Update) -> None:
        msg = update.effective_message
        user = msg.from_user
        parts = (msg.text or "").split()
        command = parts[0].split("@", 1)[0].lower()
        if command not in ("/status", "/ack", "/help", "/start"):
            return
        if not self.allowed(user):
            async with self.pool.acquire() as conn:
                await outbox.record_refusal(conn, None, command.lstrip("/"), actor=_actor(user),
                                            actor_id=user.id if user else None, via="command",
                                            request_id=f"up:{update.update_id}")
            ACTIONS.labels(command.lstrip("/"), "denied").inc()
            event(log, "command_denied", logging.WARNING, command=command, user_id=user.id if user else None)
            await self._reply(msg.chat_id, "You are not on leakwatch's list of people who may use commands.")
            return
        if command == "/status":
            await self._reply(msg.chat_id, await self.status_text())
        elif command == "/ack":
            if len(parts) < 2 or not _ALERT_ID.fullmatch(parts[1].lstrip("#")):
                await self._reply(msg.chat_id, "Usage: /ack ID (the alert number, e.g. /ack 12)")
                return
            alert_id = int(parts[1].lstrip("#"))
            async with self.pool.acquire() as conn:
                res = await outbox.act(conn, alert_id, "acknowledge", actor=_actor(user), actor_id=user.id,
                                       via="command", request_id=f"up:{update.update_id}")
            if not res.replay:
                await self._reply(msg.chat_id, self._result_text(alert_id, "acknowledge", res))
        else:
            await self._reply(msg.chat_id, HELP)

    async def status_text(self) -> str:
        async with self.pool.acquire() as conn:
            sources = await source_health(conn)
            counts, alerts = await outbox.open_alerts(conn, 10)
            stats = await outbox.outbox_stats(conn)
        return status_text(sources, counts, alerts, stats, self.st)


def status_text(sources: list[dict], counts: dict, alerts: list[dict], stats: dict, st: Settings) -> str:
    """The /status answer: source health and open alerts, in words and ids."""
    now = datetime.now(timezone.utc)
    lines = ["leakwatch status"]
    if sources:
        lines.append("Sources:")
        for s in sources:
            last = s.get("last_success_at")
            age = f"last success {_ago(now - last)} ago" if last else "no success yet"
            bad = s.get("consecutive_failures") or 0
            flag = "\u274c" if bad >= st.source_failures_alert else ("\u26a0" if bad else "\u2705")
            paused = s.get("paused_until")
            extra = f", {bad} failure{'s' if bad != 1 else ''} in a row" if bad else ""
            if paused and paused > now:
                extra += f", paused for {_ago(paused - now)}"
            lines.append(f"{flag} {s['name']}: {age}{extra}")
    else:
        lines.append("Sources: none have polled yet")
    total = sum(counts.values())
    if total:
        by = ", ".join(f"{counts[k]} {Severity(k)}" for k in sorted(counts, reverse=True))
        lines.append(f"Open alerts: {total} ({by})")
        for a in alerts:
            lines.append(f"#{a['id']} {str(Severity(a['severity'])).upper()} {a['staff_count']} staff, {a['source']}, "
                         f"first seen {_when(a['first_seen'])}, seen {a['seen_count']}x, {a['state']}")
    else:
        lines.append("Open alerts: none")
    if stats.get("pending") or stats.get("dead"):
        lines.append(f"Outbox: {stats['pending']} waiting, {stats['dead']} undeliverable")
    return "\n".join(lines)


def _ago(delta: timedelta) -> str:
    s = max(0, int(delta.total_seconds()))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


class UpdatePoller:
    """getUpdates by one leader in the cluster (an advisory lock; Telegram answers 409 to a second)."""

    def __init__(self, st: Settings, pool, leadership: outbox.Leadership, handler: UpdateHandler):
        self.st, self.pool, self.leadership, self.handler = st, pool, leadership, handler
        self.bot = handler.bot
        self.leader = False
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        a, t = self.st.alerts, self.st.telegram
        prepared = False
        while not stop.is_set():
            try:
                if not await self.leadership.try_acquire(UPDATES_LOCK):
                    self.leader = False
                    await sleep_or_stop(stop, max(a.poll_seconds, 1.0))
                    continue
                if not self.leader:
                    self.leader, prepared = True, False
                    event(log, "updates_leader", mode=t.updates)
                if not prepared:
                    if t.updates == "webhook":
                        await self.bot.set_webhook(t.webhook_url, secret_token=t.webhook_secret,
                                                   allowed_updates=["message", "callback_query"])
                        event(log, "telegram_webhook_set")
                    else:
                        await self.bot.delete_webhook()
                    prepared = True
                    self.failures = 0
                if t.updates == "webhook":
                    await sleep_or_stop(stop, 30.0)  # Telegram calls us; the lock keeps setWebhook to one replica
                    continue
                async with self.pool.acquire() as conn:
                    offset = await outbox.get_state(conn, OFFSET_KEY)
                poll = asyncio.ensure_future(self.bot.get_updates(offset=offset, timeout=t.poll_timeout,
                                                                  allowed_updates=["message", "callback_query"]))
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait([poll, stopper], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopper.cancel()
                if not poll.done():
                    poll.cancel()
                    with contextlib.suppress(asyncio.CancelledError, TelegramError):
                        await poll
                    break
                updates = poll.result()
                self.failures = 0
                for u in updates:
                    await self.handler.handle(u)
                    async with self.pool.acquire() as conn:
                        await outbox.set_state(conn, OFFSET_KEY, u.update_id + 1)
            except RetryAfter as exc:
                await sleep_or_stop(stop, retry_after_seconds(exc))
            except Conflict as exc:
                self.failures += 1
                event(log, "telegram_updates_conflict", logging.WARNING, error=_clean(exc, t.token))
                await sleep_or_stop(stop, backoff(self.failures, max(a.retry_min_seconds, 1.0), a.retry_max_seconds))
            except TelegramError as exc:
                self.failures += 1
                event(log, "telegram_updates_failed", logging.WARNING, error=_clean(exc, t.token))
                await sleep_or_stop(stop, backoff(self.failures, a.retry_min_seconds, a.retry_max_seconds))
            except outbox.TRANSIENT as exc:
                event(log, "updates_database_unavailable", logging.WARNING, error=type(exc).__name__)
                self.leader = False
                await sleep_or_stop(stop, backoff(2, a.retry_min_seconds, a.retry_max_seconds))


# =========================================================================== escalation and operators

class Housekeeping:
    """Escalation and operator checks, every [alerts] check_seconds, in every replica (the SQL
    makes each escalation and each operator message happen once)."""

    def __init__(self, st: Settings, pool, kick: asyncio.Event):
        self.st, self.pool, self.kick = st, pool, kick

    async def run(self, stop: asyncio.Event) -> None:
        a = self.st.alerts
        while not stop.is_set():
            try:
                await self.once()
            except outbox.TRANSIENT as exc:
                event(log, "checks_database_unavailable", logging.WARNING, error=type(exc).__name__)
            self.kick.clear()
            await sleep_or_stop(stop, a.check_seconds, self.kick)

    async def once(self) -> None:
        a = self.st.alerts
        async with self.pool.acquire() as conn:
            if a.escalate_max > 0:
                for alert_id in await outbox.escalate_due(conn, max_escalations=a.escalate_max,
                                                          after_seconds=a.escalate_after_minutes * 60):
                    event(log, "alert_escalated", logging.WARNING, alert_id=alert_id)
            conditions: dict[str, str | None] = {}
            for s in await outbox.sources_health(conn):
                name = s["name"]
                if self.st.sources and name not in self.st.sources:
                    continue  # a source no longer configured: its last state is history
                failures = s["consecutive_failures"] or 0
                conditions[f"source:{name}:failing"] = (
                    f"Source {name} is failing: {failures} polls in a row (see `leakwatch sources`)"
                    if failures >= self.st.source_failures_alert else None)
                paused = s["paused_until"] is not None and s["paused_until"] > datetime.now(timezone.utc)
                silent = float(s["silent_seconds"] or 0.0)
                conditions[f"source:{name}:silent"] = (
                    f"Source {name} is silent: no successful poll for {_ago(timedelta(seconds=silent))}"
                    if silent > a.source_silent_minutes * 60 and not paused else None)
            stats = await queue_stats(conn)
            conditions["backlog"] = (
                f"Match backlog: {stats['depth']} documents waiting (alert above {self.st.backlog_alert}), "
                f"oldest {_ago(timedelta(seconds=stats['oldest']))}"
                if stats["depth"] > self.st.backlog_alert else None)
            lines = await outbox.operator_conditions(conn, conditions, every_seconds=a.operator_every_minutes * 60,
                                                     watched_prefixes=("source:",))
            if lines:
                event(log, "operator_alert", logging.WARNING, lines=len(lines))
            ob = await outbox.outbox_stats(conn)
            OUTBOX_PENDING.set(ob["pending"])
            OUTBOX_DEAD.set(ob["dead"])
            OUTBOX_OLDEST.set(ob["oldest"])


# =========================================================================== the notifier

def _quiet_third_party_logs() -> None:
    # httpx logs every request URL at INFO, and Telegram's URLs hold the bot token.
    for name in ("httpx", "httpcore", "telegram", "telegram.ext", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)  # we handle RetryAfter


async def _supervise(name: str, factory, stop: asyncio.Event) -> None:
    """Run a loop; if it fails on something unforeseen, log the type, wait and start it again."""
    failures = 0
    while not stop.is_set():
        try:
            await factory(stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unforeseen error must not stop paging for good
            failures += 1
            event(log, "notifier_task_failed", logging.ERROR, task=name, error=type(exc).__name__)
            log.debug("notifier task %s failed", name, exc_info=True)
            await sleep_or_stop(stop, min(30.0, 0.5 * 2 ** min(failures, 6)))


class Notifier:
    def __init__(self, st: Settings, dsn: str):
        self.st, self.dsn = st, dsn
        self.owner = f"{os.uname().nodename[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = asyncio.Event()
        self.kick = asyncio.Event()
        self.pool = None
        self.leadership = outbox.Leadership(dsn)
        self.leadership.on_notify(self.wake.set)
        self.telegram = TelegramChannel(st.telegram) if st.telegram is not None else None
        self.channels: dict[str, Any] = {"log": LogChannel()}
        if self.telegram is not None:
            self.channels["telegram"] = self.telegram
        if st.alerts.webhook_url:
            self.channels["webhook"] = WebhookChannel(st.alerts.webhook_url, st.alerts.webhook_secret,
                                                      st.alerts.webhook_timeout, st.public_url)

    async def _pool(self, stop: asyncio.Event) -> bool:
        failures = 0
        while not stop.is_set():
            try:
                self.pool = await outbox.create_pool(self.dsn)
                return True
            except outbox.TRANSIENT as exc:
                failures += 1
                event(log, "notifier_database_unavailable", logging.WARNING, error=type(exc).__name__)
                await sleep_or_stop(stop, backoff(failures, 0.5, 15.0))
        return False

    async def run(self, stop: asyncio.Event) -> None:
        for ch in self.channels.values():
            await ch.start()
        try:
            if not await self._pool(stop):
                return
            tasks = [asyncio.ensure_future(_supervise("relay", Relay(self.st, self.pool, self.leadership,
                                                                     self.channels, self.wake, self.kick,
                                                                     self.owner).run, stop)),
                     asyncio.ensure_future(_supervise("checks", Housekeeping(self.st, self.pool, self.kick).run,
                                                      stop))]
            if self.telegram is not None and self.st.telegram.updates != "off":
                handler = UpdateHandler(self.st, self.pool, self.telegram)
                tasks.append(asyncio.ensure_future(_supervise(
                    "updates", UpdatePoller(self.st, self.pool, self.leadership, handler).run, stop)))
            event(log, "notifier_started", telegram=self.telegram is not None,
                  webhook=bool(self.st.alerts.webhook_url), owner=self.owner)
            try:
                await stop.wait()
                done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                for t in tasks:
                    t.cancel()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.leadership.release_all(), 5)
            if self.pool is not None:
                try:
                    await asyncio.wait_for(self.pool.close(), 5)
                except (Exception, asyncio.TimeoutError):
                    self.pool.terminate()
            for ch in self.channels.values():
                with contextlib.suppress(Exception):
                    await ch.close()
            event(log, "notifier_stopped", owner=self.owner)


async def run_notifier(cfg, dsn: str, stop: asyncio.Event) -> None:
    """Relay the outbox, handle Telegram updates, escalate and watch operators' conditions until
    `stop` is set; then return within a few seconds. Raises ConfigError on bad settings, never
    on Telegram, network or Postgres failures (those are logged, retried and counted)."""
    st = settings(cfg)
    _quiet_third_party_logs()
    await Notifier(st, dsn).run(stop)


# =========================================================================== Telegram webhook

class WebhookRoutes(list):
    """aiohttp routes for Telegram's webhook (a list for `app.add_routes`), plus `close()`
    for the application's cleanup: `app.on_cleanup.append(lambda app: routes.close())`."""

    def __init__(self, st: Settings, dsn: str, path: str):
        self.st, self.dsn = st, dsn
        self._handler: UpdateHandler | None = None
        self._channel: TelegramChannel | None = None
        self._pool = None
        self._lock = asyncio.Lock()
        super().__init__([web.post(path, self.handle)])

    async def _ready(self) -> UpdateHandler:
        async with self._lock:
            if self._handler is None:
                self._pool = await outbox.create_pool(self.dsn, max_size=2)
                self._channel = TelegramChannel(self.st.telegram)
                await self._channel.start()
                self._handler = UpdateHandler(self.st, self._pool, self._channel)
            return self._handler

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.st.telegram.webhook_secret.encode()):
            event(log, "telegram_webhook_refused", logging.WARNING, remote=request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        try:
            handler = await self._ready()
            update = Update.de_json(data, handler.bot)
            if update is not None:
                await handler.handle(update)
        except outbox.TRANSIENT as exc:
            event(log, "telegram_webhook_database_unavailable", logging.WARNING, error=type(exc).__name__)
            return web.Response(status=503, text="try again")  # Telegram retries the delivery
        return web.json_response({"ok": True})

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self._pool is not None:
            await self._pool.close()


def webhook_routes(cfg, dsn: str, path: str = "/telegram/webhook") -> WebhookRoutes:
    """Routes that receive Telegram's updates at `path` (checked against the secret token header)."""
    st = settings(cfg)
    if st.telegram is None:
        raise ConfigError("[telegram]: required for the Telegram webhook route")
    return WebhookRoutes(st, dsn, path)
