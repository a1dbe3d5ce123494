"""Ransomware leak-site trackers: ransomwatch and ransomware.live.

The trackers scrape the gangs' leak sites and publish each victim posting. A posting
naming one of the force's suppliers is the first sign of a breach that may hold staff
data (the `suppliers` matcher reads it); its description sometimes quotes the data.

- `ransomwatch`: `GET {base}/posts.json`, an array of `{post_title, group_name, discovered}`
  with `discovered` as `%Y-%m-%d %H:%M:%S.%f` (UTC); a posting is (post_title, group_name).
- `ransomware_live`: `GET {base}/v2/recentvictims`, an array of objects with `victim`,
  `group`, `discovered`, `attackdate`, `country`, `activity`, `domain`, `description`,
  `claim_url`, `url`; a posting is (victim, group).

Each new posting becomes one plain-text document the suppliers matcher reads, e.g.:

    ransomware group: blackfin
    victim: Acme Card Systems Ltd
    victim domain: acmecards.example
    country: GB
    discovered: 2024-05-01T10:00:00+00:00
    tracker: ransomware.live

    <description>

Fields are put on one line each (line breaks inside a value become spaces), so a posting
cannot forge another field. External id: a hash of the posting's group and title.

The first poll (no cursor) takes the postings discovered within `backfill_days` (default 7)
and ignores older ones; postings with no readable `discovered` time are skipped (logged).
Later polls take the postings not seen before that were discovered at most `OVERLAP`
before the newest one already seen: trackers publish late-scraped postings with times a
little in the past.

Cursor: `{"newest": ISO time of the newest posting seen, "keys": [hashes of the postings
discovered within OVERLAP of it]}` (at most `KEYS_MAX`). Errors: anything but a JSON array
is a SourceError naming the host; a 429 is retried and then raised as RateLimited by the
HTTP client; malformed postings are skipped and counted in a log line.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from leakwatch.http import Http, SourceError, host_of
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import number_option, unknown_options

log = logging.getLogger("leakwatch.sources.ransomware")

OVERLAP = timedelta(days=1)
KEYS_MAX = 5000
DESCRIPTION_MAX = 20_000  # characters of a posting's description kept
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)


def parse_time(value) -> datetime | None:
    """A tracker timestamp ("2024-05-01 10:00:00.123456", ISO 8601 with or without zone) in UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")
        except ValueError:
            return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def one_line(value) -> str:
    if value is None:
        return ""
    return _CONTROL.sub(" ", str(value)).strip()


class _Posting:
    __slots__ = ("group", "title", "discovered", "fields", "description", "key")

    def __init__(self, group: str, title: str, discovered: datetime | None, fields: list[tuple[str, str]],
                 description: str):
        self.group, self.title, self.discovered = group, title, discovered
        self.fields, self.description = fields, description
        self.key = hashlib.sha256(f"{group.casefold()}\n{title}".encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def body(self, tracker: str) -> bytes:
        lines = [f"ransomware group: {self.group}", f"victim: {self.title}"]
        lines += [f"{label}: {value}" for label, value in self.fields if value]
        if self.discovered is not None:
            lines.append(f"discovered: {self.discovered.isoformat()}")
        lines.append(f"tracker: {tracker}")
        text = "\n".join(lines) + "\n"
        if self.description:
            text += "\n" + self.description[:DESCRIPTION_MAX] + "\n"
        return text.encode("utf-8", "replace")


class _TrackerSource:
    kind: ClassVar[str]
    default_base: ClassVar[str]
    path: ClassVar[str]
    tracker: ClassVar[str]

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, {"backfill_days"})
        backfill = number_option(opts, "backfill_days", 7, minimum=0, expected="a number of days, 0 or more")
        self.backfill = timedelta(days=backfill)
        self.base = (settings.base_url or self.default_base).rstrip("/")

    def _posting(self, raw: dict) -> _Posting | None:
        raise NotImplementedError

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        url = self.base + self.path
        resp = await http.get(url, cap=self.settings.max_bytes, timeout=self.settings.timeout)
        data = resp.json()
        if not isinstance(data, list):
            raise SourceError(f"{host_of(url)}: answer is not a JSON array", status=resp.status)
        postings: list[_Posting] = []
        malformed = undated = 0
        for raw in data:
            p = self._posting(raw) if isinstance(raw, dict) else None
            if p is None:
                malformed += 1
            elif p.discovered is None:
                undated += 1
            else:
                postings.append(p)
        if malformed or undated:
            log.warning("tracker_postings_skipped", extra={"fields": {"source": self.settings.name,
                                                                      "malformed": malformed, "undated": undated}})
        now = datetime.now(timezone.utc)
        newest = parse_time((cursor or {}).get("newest"))
        keys = set((cursor or {}).get("keys") or [])
        floor = now - self.backfill if newest is None else newest - OVERLAP
        fresh: dict[str, _Posting] = {}
        for p in postings:
            if p.discovered >= floor and p.key not in keys and p.key not in fresh:
                fresh[p.key] = p
        top = max([p.discovered for p in postings] + ([newest] if newest else []), default=None)
        if top is None:
            return Poll([], cursor)
        # Remember every listed posting near the newest (newest first), then those remembered before.
        recent = {p.key: p.discovered for p in postings if p.discovered >= top - OVERLAP}
        kept = [k for k, _ in sorted(recent.items(), key=lambda kv: kv[1], reverse=True)]
        kept += [k for k in (cursor or {}).get("keys") or [] if k not in recent]
        items = [Item(external_id=p.key, body=p.body(self.tracker), name="posting.txt", published=p.discovered)
                 for p in sorted(fresh.values(), key=lambda p: (p.discovered, p.key))]
        return Poll(items, {"newest": top.isoformat(), "keys": kept[:KEYS_MAX]})


class RansomwatchSource(_TrackerSource):
    kind: ClassVar[str] = "ransomwatch"
    default_base: ClassVar[str] = "https://raw.githubusercontent.com/joshhighet/ransomwatch/main"
    path: ClassVar[str] = "/posts.json"
    tracker: ClassVar[str] = "ransomwatch"

    def _posting(self, raw: dict) -> _Posting | None:
        title, group = one_line(raw.get("post_title")), one_line(raw.get("group_name"))
        if not title or not group:
            return None
        domain = title.lower() if _DOMAIN.match(title) else ""
        return _Posting(group, title, parse_time(raw.get("discovered")), [("victim domain", domain)], "")


class RansomwareLiveSource(_TrackerSource):
    kind: ClassVar[str] = "ransomware_live"
    default_base: ClassVar[str] = "https://api.ransomware.live"
    path: ClassVar[str] = "/v2/recentvictims"
    tracker: ClassVar[str] = "ransomware.live"

    def _posting(self, raw: dict) -> _Posting | None:
        title = one_line(raw.get("victim") or raw.get("post_title"))
        group = one_line(raw.get("group") or raw.get("group_name"))
        if not title or not group:
            return None
        domain = one_line(raw.get("domain") or raw.get("website"))
        if not domain and _DOMAIN.match(title):
            domain = title.lower()
        fields = [("victim domain", domain), ("country", one_line(raw.get("country"))),
                  ("sector", one_line(raw.get("activity"))), ("attack date", one_line(raw.get("attackdate"))),
                  ("leak site post", one_line(raw.get("claim_url") or raw.get("post_url"))),
                  ("tracker page", one_line(raw.get("url")))]
        description = raw.get("description")
        return _Posting(group, title, parse_time(raw.get("discovered")), fields,
                        description.strip() if isinstance(description, str) else "")
