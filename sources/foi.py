"""Freedom-of-information portals running Alaveteli (WhatDoTheyKnow and its siblings).

Alaveteli publishes Atom feeds of request events: per public body (`/feed/body/{url_name}`),
per request (`/feed/request/{url_title}`), per search (`/feed/search/{query}`). Each entry
links to the event (`/request_event/{id}`, which redirects to the request page
`/request/{url_title}#incoming-{n}`); the page links each response's attachments as
`/request/{id}/response/{incoming_message_id}/attach/{part}/{file_name}` (and, for shared
requests, `/r/{token}/response/{id}/attach/{part}/{file_name}`). The `attach/html/...`
links are Alaveteli's own HTML renderings of the same files and are not fetched.

Each poll fetches the configured feeds (conditional GET, as the feed source does) and, for
each entry not seen before, makes:

- one document of the entry's title and summary (`entry.html`), and
- one document per attachment on the request page not seen before, named after the file
  (`Response.xlsx`, `data.csv`, `bundle.zip`) so that extraction opens it as what it is,
  hidden worksheets included; external id = the attachment's URL path.

Only links on the portal's own host (base_url's, or the feed's) are followed.

Errors: a feed that fails fails the poll when every feed failed (SourceError naming the
host), else it is logged (`foi_feed_failed`) and the other feeds' items are returned. A
request page or attachment that fails with a 4xx or is over `max_bytes` is skipped and
logged; one that fails with a timeout, a 5xx or a rate limit holds its entry back to be
tried again on the next polls (up to `TRIES`), attachments already fetched are not fetched
again. A page with more new attachments than `max_attachments` (default 50) is read over
several polls, one after the other. A rate limit (429 beyond the client's retries) on a page
or an attachment ends the poll there: what was fetched is returned with `wait` set to the
portal's Retry-After (60 s when it gave none), the rest comes on the next poll.

Cursor: `{"feeds": {url: {"etag", "modified"}}, "entries": [...], "attachments": [...],
"tries": {...}}`: hashes of the entry ids and attachment paths seen (the last
`ENTRIES_MAX` / `ATTACHMENTS_MAX`), validators per feed, retry counts.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from leakwatch.http import Http, RateLimited, SourceError, host_of
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import number_option, unknown_options, url_list_option
from sources.feeds import (
    digest,
    entry_document,
    entry_id,
    fetch_feed,
    parse_feed,
    permanent,
    published,
    validators,
)

log = logging.getLogger("leakwatch.sources.foi")

DEFAULT_BASE = "https://www.whatdotheyknow.com"
ENTRIES_MAX = 2000
ATTACHMENTS_MAX = 5000
TRIES = 5  # polls an entry whose page or attachment keeps failing transiently is retried
_OPTIONS = {"feeds", "max_entries", "max_attachments"}


class _Links(HTMLParser):
    """Every href of an HTML page, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value:
                    self.hrefs.append(value.strip())


def attachment_links(page_html: str, page_url: str, hosts: set[str]) -> list[tuple[str, str]]:
    """(URL to fetch, URL path) of each attachment linked from a request page, in page order, once each."""
    parser = _Links()
    try:
        parser.feed(page_html)
        parser.close()
    except Exception:  # html.parser is lenient; a pathological page yields what was read
        pass
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for href in parser.hrefs:
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or (parts.hostname or "") not in hosts:
            continue
        path = parts.path
        if "/attach/" not in path or "/attach/html/" in path or path in seen:
            continue
        seen.add(path)
        out.append((urlunsplit(parts._replace(fragment="")), path))
    return out


def attachment_name(path: str) -> str:
    """The attachment's file name from its path (`.../attach/3/Staff%20list.xlsx` -> `Staff list.xlsx`)."""
    head, last = posixpath.split(path.rstrip("/"))
    if posixpath.basename(head) == "attach" and last.isdigit():  # `attach/{part}` without a file name
        return f"attachment-{last}"
    name = unquote(last).replace("\\", "_").lstrip(".").strip()
    return name[-200:] or "attachment"


@dataclass(slots=True)
class _Visit:
    """What one visit of an entry (and its request page) gave."""

    items: list[Item]
    done: list[str] = field(default_factory=list)  # hashes of attachments fetched or given up
    finished: bool = True  # False: something failed transiently, visit again next poll
    capped: bool = False  # more new attachments than max_attachments: the rest next poll
    pause: float | None = None  # the portal rate-limited us: seconds to wait


def _pause(exc: SourceError) -> float | None:
    if isinstance(exc, RateLimited):
        return exc.retry_after if exc.retry_after is not None else 60.0
    return None


class FoiSource:
    kind: ClassVar[str] = "foi"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        self.base = (settings.base_url or DEFAULT_BASE).rstrip("/")
        self.feeds = url_list_option(opts, "feeds", self.base, None)
        self.max_entries = number_option(opts, "max_entries", 50, minimum=1, integer=True)
        self.max_attachments = number_option(opts, "max_attachments", 50, minimum=1, integer=True)
        self.hosts = {urlsplit(self.base).hostname or ""} | {urlsplit(u).hostname or "" for u in self.feeds}

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        cursor = cursor or {}
        feed_states: dict[str, dict] = {u: dict(s) for u, s in (cursor.get("feeds") or {}).items() if u in self.feeds}
        seen_entries: list[str] = list(cursor.get("entries") or [])
        seen_attachments: list[str] = list(cursor.get("attachments") or [])
        tries: dict[str, int] = dict(cursor.get("tries") or {})
        entry_set, attach_set = set(seen_entries), set(seen_attachments)
        items: list[Item] = []
        failures: list[SourceError] = []
        handled = 0
        more = False
        pause: float | None = None
        for url in self.feeds:
            if pause is not None:
                break
            state = feed_states.get(url) or {}
            try:
                resp = await fetch_feed(http, url, state, self.settings)
                if resp is None:
                    continue
                parsed = await parse_feed(resp)
            except SourceError as exc:
                failures.append(exc)
                log.warning("foi_feed_failed", extra={"fields": {"source": self.settings.name,
                                                                 "host": host_of(url), "error": str(exc)}})
                continue
            held_back = False
            for entry in reversed(list(parsed.get("entries") or [])):  # oldest first
                eid = entry_id(entry)
                h = digest(eid)
                if h in entry_set:
                    continue
                if handled >= self.max_entries or pause is not None:
                    held_back = more = True
                    continue
                handled += 1
                r = await self._entry(http, resp.url, entry, eid, attach_set)
                items.extend(r.items)
                for p in r.done:
                    attach_set.add(p)
                    seen_attachments.insert(0, p)
                if r.pause is not None:  # the portal asked for a pause: stop here, the rest next time
                    pause, held_back = r.pause, True
                    continue
                if r.capped:  # more attachments than one poll reads: the rest on the next poll, at once
                    held_back = more = True
                    continue
                finished = r.finished
                n = tries.get(h, 0) + 1
                if finished or n >= TRIES:
                    if not finished:
                        log.warning("foi_entry_given_up", extra={"fields": {"source": self.settings.name,
                                                                             "host": host_of(url), "tries": n}})
                    entry_set.add(h)
                    seen_entries.insert(0, h)
                    tries.pop(h, None)
                else:
                    tries[h] = n
                    held_back = True
            feed_states[url] = {"etag": None, "modified": None} if held_back else validators(resp)
        if failures and len(failures) == len(self.feeds):
            message = "; ".join(str(f) for f in failures)
            waits = [f.retry_after for f in failures if f.retry_after is not None]
            cls = RateLimited if all(isinstance(f, RateLimited) for f in failures) else SourceError
            raise cls(message if len(failures) == 1 else f"all {len(failures)} feeds failed: {message}",
                      retry_after=max(waits) if waits else None)
        new_cursor = {"feeds": feed_states, "entries": seen_entries[:ENTRIES_MAX],
                      "attachments": seen_attachments[:ATTACHMENTS_MAX],
                      "tries": {h: n for h, n in tries.items() if h not in entry_set}}
        return Poll(items, new_cursor, more=more and pause is None, wait=pause)

    async def _entry(self, http: Http, feed_url: str, entry: Any, eid: str, attach_set: set[str]) -> _Visit:
        """The items of one feed entry: its text, then each new attachment of its request page."""
        text, is_html = entry_document(entry)
        link = entry.get("link") if isinstance(entry.get("link"), str) else None
        when = published(entry)
        items = [Item(external_id=eid if len(eid) <= 400 else "sha256:" + digest(eid, 40),
                      body=text.encode("utf-8", "replace"), name="entry.html" if is_html else "entry.txt",
                      url=link, published=when)]
        visit = _Visit(items)
        if not link:
            return visit
        page_url = urljoin(feed_url, link)
        if (urlsplit(page_url).hostname or "") not in self.hosts or urlsplit(page_url).scheme not in ("http", "https"):
            return visit
        try:
            page = await http.get(page_url, cap=self.settings.max_bytes, timeout=self.settings.timeout)
        except SourceError as exc:
            self._skipped("foi_page", page_url, exc)
            visit.finished = permanent(exc)
            visit.pause = _pause(exc)
            return visit
        fetched = 0
        for url, path in attachment_links(page.text(), page.url, self.hosts):
            h = digest(path)
            if h in attach_set or h in visit.done:
                continue
            if fetched >= self.max_attachments:
                visit.capped = True
                break
            fetched += 1
            try:
                resp = await http.get(url, cap=self.settings.max_bytes, timeout=self.settings.timeout)
            except SourceError as exc:
                self._skipped("foi_attachment", url, exc)
                if permanent(exc):
                    visit.done.append(h)
                    continue
                visit.finished = False
                visit.pause = _pause(exc)
                if visit.pause is not None:
                    break
                continue
            visit.done.append(h)
            items.append(Item(external_id=path, body=resp.body, name=attachment_name(path), url=url,
                              published=when))
        return visit

    def _skipped(self, what: str, url: str, exc: SourceError) -> None:
        log.warning(f"{what}_failed", extra={"fields": {"source": self.settings.name, "host": host_of(url),
                                                        "error": str(exc), "retried": not permanent(exc)}})
