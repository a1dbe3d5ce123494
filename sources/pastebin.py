"""Pastebin through its scraping API (PRO accounts; the polling IP must be whitelisted).

Each poll lists the newest pastes (`api_scraping.php?limit=N`, newest first) and fetches the
text of each one not seen before (`api_scrape_item.php?i=KEY`), oldest first, at a courtesy
pace. Pastebin answers errors with status 200 and a plain-text body; those are recognised
and never become documents:

- `YOUR IP: ... DOES NOT HAVE ACCESS` (listing or item): SourceError, the poll fails;
- `File is not ready for scraping yet...`: the key is kept in the cursor and retried on the
  next polls (up to `NOT_READY_TRIES` times);
- `Error, we cannot find this paste.`: the paste is gone; skipped.

Cursor: `{"date": newest listed date (epoch seconds), "keys": keys listed at that date,
"pending": {key: {"date", "url", "tries"}}}`. Titles are never put in the cursor (it is
stored in the database, and a title may quote the leak); they go into the item body.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import datetime, timezone
from typing import ClassVar

from leakwatch.http import Http, SourceError, TooLarge
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import number_option, unknown_options

log = logging.getLogger("leakwatch.sources.pastebin")

DEFAULT_BASE = "https://scrape.pastebin.com"
PASTE_URL = "https://pastebin.com/{key}"
NOT_READY_TRIES = 10  # polls a "not ready" paste is retried before it is given up
MAX_LIMIT = 250

_KEY = re.compile(r"^[A-Za-z0-9]{1,32}$")
_NO_ACCESS = b"DOES NOT HAVE ACCESS"
_NOT_READY = b"File is not ready for scraping yet"
_GONE = b"Error, we cannot find this paste"
_ERROR_MAX = 300  # Pastebin's error bodies are short; a longer body is a paste that quotes one

_OPTIONS = {"limit", "pace", "max_poll_seconds"}


def _error_body(body: bytes, marker: bytes) -> bool:
    return len(body) <= _ERROR_MAX and marker in body


class PastebinSource:
    kind: ClassVar[str] = "pastebin"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        self.limit = int(number_option(opts, "limit", 100, minimum=1, maximum=MAX_LIMIT, integer=True))
        self.pace = float(number_option(opts, "pace", 1.0, minimum=0))
        # A poll stops fetching after this long and hands back what it has (more=True); the rest
        # waits in the cursor. At the courtesy pace a full listing takes longer than one poll may.
        self.max_poll_seconds = float(number_option(opts, "max_poll_seconds", 45.0, minimum=1))
        self.base = (settings.base_url or DEFAULT_BASE).rstrip("/")

    # ------------------------------------------------------------------ listing

    async def _listing(self, http: Http) -> list[dict]:
        resp = await http.get(f"{self.base}/api_scraping.php", params={"limit": str(self.limit)},
                              cap=self.settings.max_bytes, timeout=self.settings.timeout)
        body = resp.body.strip()
        if _NO_ACCESS in body[:_ERROR_MAX]:
            raise SourceError("pastebin: the scraping API refused this IP (it must be whitelisted "
                              "on a PRO account)", status=resp.status)
        if not body.startswith(b"["):
            raise SourceError("pastebin: listing is not a JSON array (an error page?)", status=resp.status)
        data = resp.json()
        if not isinstance(data, list):
            raise SourceError("pastebin: listing is not a JSON array", status=resp.status)
        out = []
        for entry in data:
            meta = _entry(entry)
            if meta is None:
                log.warning("pastebin listing entry skipped: malformed", extra={"fields": {"source": self.settings.name}})
                continue
            out.append(meta)
        return out

    # ------------------------------------------------------------------ poll

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        cursor = cursor or {}
        mark = int(cursor.get("date", -1))
        mark_keys = set(cursor.get("keys", []))
        pending: dict[str, dict] = {k: dict(v) for k, v in (cursor.get("pending") or {}).items()}

        listing = await self._listing(http)
        by_key = {m["key"]: m for m in listing}

        fresh = [m for m in listing
                 if (m["date"] > mark or (m["date"] == mark and m["key"] not in mark_keys))
                 and m["key"] not in pending]
        fresh.sort(key=lambda m: (m["date"], m["key"]))  # oldest first
        retry = [by_key.get(k) or {"key": k, "date": v.get("date", 0), "url": v.get("url"), "title": "",
                                    "size": None}
                 for k, v in sorted(pending.items(), key=lambda kv: (kv[1].get("date", 0), kv[0]))]

        # The listing high-water mark: everything listed is either handled here or pending.
        if listing:
            top = max(m["date"] for m in listing)
            if top > mark:
                mark, mark_keys = top, set()
            mark_keys |= {m["key"] for m in listing if m["date"] == mark}

        items: list[Item] = []
        fetched = 0
        started = time.monotonic()
        queue = [(m, False) for m in retry] + [(m, True) for m in fresh]
        for index, (meta, is_new) in enumerate(queue):
            key = meta["key"]
            if items and time.monotonic() - started > self.max_poll_seconds:
                for m, _ in queue[index:]:
                    old = pending.get(m["key"], {})
                    pending[m["key"]] = {"date": m["date"], "url": m.get("url"), "tries": old.get("tries", 0)}
                return Poll(items, self._cursor(mark, mark_keys, pending), more=True)
            if meta.get("size") is not None and meta["size"] > self.settings.max_bytes:
                log.info("paste skipped: declared size over max_bytes",
                         extra={"fields": {"source": self.settings.name, "key": key, "size": meta["size"]}})
                pending.pop(key, None)
                continue
            if fetched and self.pace:
                await asyncio.sleep(self.pace)
            fetched += 1
            try:
                resp = await http.get(f"{self.base}/api_scrape_item.php", params={"i": key},
                                      cap=self.settings.max_bytes, timeout=self.settings.timeout)
            except TooLarge:
                log.info("paste skipped: body over max_bytes", extra={"fields": {"source": self.settings.name, "key": key}})
                pending.pop(key, None)
                continue
            except SourceError as exc:
                # Keep what was fetched; the keys not reached yet are retried next poll.
                rest = queue[index:]
                if not items:
                    raise
                for m, _ in rest:
                    old = pending.get(m["key"], {})
                    pending[m["key"]] = {"date": m["date"], "url": m.get("url"), "tries": old.get("tries", 0)}
                return Poll(items, self._cursor(mark, mark_keys, pending), more=True,
                            wait=exc.retry_after)
            body = resp.body
            if _error_body(body, _NO_ACCESS):
                raise SourceError("pastebin: the scraping API refused this IP (it must be whitelisted "
                                  "on a PRO account)", status=resp.status)
            if _error_body(body, _NOT_READY):
                tries = pending.get(key, {}).get("tries", 0) + 1
                if tries >= NOT_READY_TRIES:
                    log.warning("paste given up: not ready for scraping after retries",
                                extra={"fields": {"source": self.settings.name, "key": key, "tries": tries}})
                    pending.pop(key, None)
                else:
                    pending[key] = {"date": meta["date"], "url": meta.get("url"), "tries": tries}
                continue
            pending.pop(key, None)
            if _error_body(body, _GONE):
                log.info("paste skipped: gone", extra={"fields": {"source": self.settings.name, "key": key}})
                continue
            title = meta.get("title") or ""
            if title:
                body = f"Title: {title}\n".encode() + body
            items.append(Item(
                external_id=key,
                body=body,
                name=f"{key}.txt",
                url=meta.get("url") or PASTE_URL.format(key=key),
                published=datetime.fromtimestamp(meta["date"], tz=timezone.utc) if meta["date"] > 0 else None,
            ))
        return Poll(items, self._cursor(mark, mark_keys, pending))

    @staticmethod
    def _cursor(mark: int, mark_keys: set[str], pending: dict[str, dict]) -> dict:
        return {"date": mark, "keys": sorted(mark_keys), "pending": pending}


def _entry(entry) -> dict | None:
    """The fields of one listing entry that are used, validated; None when unusable."""
    if not isinstance(entry, dict):
        return None
    key = entry.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        return None
    try:
        date = int(str(entry.get("date", "")).strip())
    except ValueError:
        return None
    try:
        size = int(str(entry.get("size", "")).strip())
    except ValueError:
        size = None
    url = entry.get("full_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        url = PASTE_URL.format(key=key)
    title = entry.get("title")
    return {"key": key, "date": date, "size": size, "url": url,
            "title": title.strip() if isinstance(title, str) else ""}
