"""RSS and Atom feeds: leak trackers, breach news, security blogs, paste-site feeds.

Each poll fetches every configured feed (conditional GET: `If-None-Match` with the last
`ETag`, `If-Modified-Since` with the last `Last-Modified`; a 304 means nothing new) and
parses it with feedparser from the fetched bytes (feedparser never fetches anything
itself). Every entry not seen before becomes a document:

- the entry's title and summary (or full content), as HTML when the feed says so;
- with `fetch_links` (default true), the page the entry links to: an HTML or plain-text
  page is appended to the entry's document (one document in the page's format, so the
  title's words stand next to the data and each line of a pasted list stays a record of
  its own); anything else (CSV, JSON, XLSX, ZIP, PDF, ...) becomes a document of its own,
  named after the link's file name so that extraction reads its format, with external id
  `<entry id>#link`.

A link to a loopback, private or link-local address (or `localhost`) is fetched only when
the feed itself is on such an address: a public feed cannot make leakwatch fetch from the
network it runs in. Only http and https links are fetched.

Errors: a feed that cannot be fetched or is not a feed (not RSS/Atom XML) fails alone;
the poll returns the entries of the feeds that worked and logs the others (`feed_failed`
with the host), and raises SourceError (RateLimited when every failure was a rate limit)
only when every feed failed, so one dead feed neither hides the rest nor goes unnoticed.
A linked page that fails with a 4xx or is over `max_bytes` is skipped (logged) and the
entry kept without it; one that fails with a timeout or 5xx holds the entry back, to be
tried again on the next polls (up to `LINK_TRIES` polls, then it is kept without the page).

Cursor: `{"feeds": {url: {"seen": [...], "etag", "modified", "tries": {...}}}}`, per feed:
hashes of the last `SEEN_MAX` entry ids (never less than the feed's current entries), the
validators, and link retry counts. Entry ids and titles are never stored in the clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import ipaddress
import logging
import posixpath
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import feedparser

from leakwatch.http import Http, RateLimited, Response, SourceError, TooLarge, host_of
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import bool_option, number_option, unknown_options, url_list_option

log = logging.getLogger("leakwatch.sources.feeds")

SEEN_MAX = 500  # entry ids remembered per feed (at least as many as the feed lists)
LINK_TRIES = 3  # polls a linked page failing with a timeout or 5xx is retried before giving up
_OPTIONS = {"urls", "fetch_links", "max_entries"}
_URI = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)\S+$", re.I)
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_TEXT_TYPES = {"text/plain"}
_EXTENSIONS = {  # content type -> file name extension, for links whose path has none
    "text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt", "text/csv": ".csv",
    "application/json": ".json", "application/zip": ".zip", "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel": ".xls", "application/gzip": ".gz", "application/x-gzip": ".gz",
    "text/tab-separated-values": ".tsv", "application/sql": ".sql", "text/markdown": ".md",
}


# --------------------------------------------------------------------------- feed helpers

def digest(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def conditional_headers(state: dict) -> dict[str, str] | None:
    headers = {}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("modified"):
        headers["If-Modified-Since"] = state["modified"]
    return headers or None


async def fetch_feed(http: Http, url: str, state: dict, settings: SourceSettings) -> Response | None:
    """The feed's answer, or None on 304 Not Modified."""
    resp = await http.get(url, cap=settings.max_bytes, headers=conditional_headers(state),
                          timeout=settings.timeout, ok=(200, 304))
    return None if resp.status == 304 else resp


def validators(resp: Response) -> dict:
    return {"etag": resp.headers.get("ETag"), "modified": resp.headers.get("Last-Modified")}


def _parse(body: bytes, url: str, content_type: str) -> Any:
    # A stream, never a string: given a str, feedparser would fetch URLs and open file names.
    return feedparser.parse(io.BytesIO(body), response_headers={"content-location": url,
                                                                 "content-type": content_type})


async def parse_feed(resp: Response) -> Any:
    """feedparser's result for a fetched feed; SourceError naming the host if it is not a feed."""
    parsed = await asyncio.to_thread(_parse, resp.body, resp.url, resp.headers.get("Content-Type", ""))
    if not parsed.get("version") and not parsed.get("entries"):
        raise SourceError(f"{host_of(resp.url)}: not an RSS or Atom feed", status=resp.status)
    return parsed


def entry_id(entry: Any) -> str:
    """The entry's own id (Atom id, RSS guid), else its link, else a hash of its text."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "sha256:" + digest(f"{entry.get('title', '')}\n{entry.get('published', '')}\n{entry.get('summary', '')}", 40)


def published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        t = entry.get(key)
        if t:
            try:
                return datetime(*t[:6], tzinfo=timezone.utc)
            except (TypeError, ValueError):
                continue
    return None


def entry_document(entry: Any) -> tuple[str, bool]:
    """(text, is_html): the entry's title with its fullest content (or summary)."""
    title = entry.get("title") or ""
    best, kind = "", "text/plain"
    for c in entry.get("content") or []:
        value = c.get("value") or ""
        if len(value) > len(best):
            best, kind = value, c.get("type") or "text/html"
    summary = entry.get("summary") or ""
    if len(summary) > len(best):
        detail = entry.get("summary_detail") or {}
        best, kind = summary, detail.get("type") or "text/html"
    if kind in _HTML_TYPES:
        return f"<h1>{html.escape(title)}</h1>\n{best}", True
    return f"{title}\n\n{best}" if title else best, False


class _Text(HTMLParser):
    _BREAKS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "table", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """An entry's HTML as plain lines (to sit in front of a plain-text page)."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _private_host(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified or ip.is_multicast


def link_allowed(link: str, origin: str) -> bool:
    """An http(s) link, not into a private network unless the origin (the feed) is in one too."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return not _private_host(parts.hostname) or _private_host(urlsplit(origin).hostname or "")


def media_type(resp: Response) -> str:
    return (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def file_name(url: str, content_type: str = "", default: str = "link") -> str:
    """A file name for extraction from the URL's path ("staff%20list.xlsx" -> "staff list.xlsx")."""
    name = unquote(posixpath.basename(urlsplit(url).path)).replace("\\", "_").strip() or default
    name = name.lstrip(".")[-200:] or default
    if not posixpath.splitext(name)[1] and content_type in _EXTENSIONS:
        name += _EXTENSIONS[content_type]
    return name


def decoded(resp: Response) -> str:
    """The body as text in the charset the server declared (UTF-8 when none or unknown)."""
    ctype = resp.headers.get("Content-Type") or ""
    charset = next((p.split("=", 1)[1].strip().strip('"') for p in ctype.split(";")[1:]
                    if p.strip().lower().startswith("charset=")), "utf-8")
    try:
        return resp.body.decode(charset, "replace")
    except LookupError:
        return resp.body.decode("utf-8", "replace")


def permanent(exc: SourceError) -> bool:
    """A failure that will not mend by asking again: too large, or a 4xx other than 408/429."""
    if isinstance(exc, TooLarge):
        return True
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429)


def remember(old: list[str], current: list[str], done: set[str], limit: int = SEEN_MAX) -> list[str]:
    """Seen hashes to keep: those the feed still lists (all of them), then the most recent others."""
    keep = [h for h in current if h in done]
    kept = set(keep)
    rest = [h for h in old if h not in kept]
    return keep + rest[: max(0, limit - len(keep))]


# --------------------------------------------------------------------------- the source

class FeedSource:
    kind: ClassVar[str] = "feed"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        default = [settings.base_url] if settings.base_url else None
        self.urls = url_list_option(opts, "urls", settings.base_url, default)
        self.fetch_links = bool_option(opts, "fetch_links", True)
        self.max_entries = number_option(opts, "max_entries", 50, minimum=1, integer=True)

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        states = (cursor or {}).get("feeds") or {}
        results = await asyncio.gather(*(self._poll_feed(http, url, dict(states.get(url) or {}))
                                         for url in self.urls), return_exceptions=True)
        items: list[Item] = []
        new_states: dict[str, dict] = {}
        failures: list[SourceError] = []
        emitted: set[str] = set()  # an entry listed by two feeds (one id) is one document
        more = False
        for url, result in zip(self.urls, results):
            if isinstance(result, SourceError):
                failures.append(result)
                new_states[url] = states.get(url) or {}
                log.warning("feed_failed", extra={"fields": {"source": self.settings.name, "host": host_of(url),
                                                             "error": str(result)}})
                continue
            if isinstance(result, BaseException):
                raise result
            feed_items, state, feed_more = result
            items.extend(i for i in feed_items if i.external_id not in emitted)
            emitted.update(i.external_id for i in feed_items)
            new_states[url] = state
            more = more or feed_more
        if failures and len(failures) == len(self.urls):
            message = "; ".join(str(f) for f in failures)
            if len(failures) > 1:
                message = f"all {len(failures)} feeds failed: {message}"
            waits = [f.retry_after for f in failures if f.retry_after is not None]
            cls = RateLimited if all(isinstance(f, RateLimited) for f in failures) else SourceError
            raise cls(message, retry_after=max(waits) if waits else None,
                      status=failures[0].status if len(failures) == 1 else None)
        return Poll(items, {"feeds": new_states}, more=more)

    async def _poll_feed(self, http: Http, url: str, state: dict) -> tuple[list[Item], dict, bool]:
        resp = await fetch_feed(http, url, state, self.settings)
        if resp is None:
            return [], state, False
        parsed = await parse_feed(resp)
        entries = list(parsed.get("entries") or [])
        old_seen: list[str] = list(state.get("seen") or [])
        seen = set(old_seen)
        tries: dict[str, int] = dict(state.get("tries") or {})
        ids = [entry_id(e) for e in entries]
        hashes = [digest(i) for i in ids]
        done: set[str] = set(seen)
        items: list[Item] = []
        held_back = deferred = False
        handled = 0
        # Oldest first: feeds list the newest entry first.
        for entry, eid, h in reversed(list(zip(entries, ids, hashes))):
            if h in done:
                continue
            if handled >= self.max_entries:
                held_back = deferred = True
                continue
            handled += 1
            got, finished = await self._entry_items(http, url, resp.url, entry, eid, h, tries)
            items.extend(got)
            if finished:
                done.add(h)
                tries.pop(h, None)
            else:
                held_back = True
        listed = set(hashes)
        tries = {h: n for h, n in tries.items() if h in listed}
        new_state = {"seen": remember(old_seen, hashes, done), "tries": tries}
        # Validators only once every listed entry is handled: a held-back entry needs the full feed again.
        new_state.update({"etag": None, "modified": None} if held_back else validators(resp))
        return items, new_state, deferred

    def _external_id(self, feed_url: str, eid: str) -> str:
        if _URI.match(eid) and len(eid) <= 400 and not eid.startswith("sha256:"):
            return eid
        return f"{feed_url}#{eid if eid.startswith('sha256:') else 'sha256:' + digest(eid, 40)}"

    async def _entry_items(self, http: Http, feed_url: str, origin: str, entry: Any, eid: str, h: str,
                           tries: dict[str, int]) -> tuple[list[Item], bool]:
        """The entry's items, and whether the entry is finished (False: try it again next poll).

        `feed_url` is the configured URL (it qualifies ids), `origin` where the feed was answered from."""
        text, is_html = entry_document(entry)
        ext_id = self._external_id(feed_url, eid)
        link = entry.get("link") if isinstance(entry.get("link"), str) else None
        when = published(entry)
        page: Response | None = None
        if self.fetch_links and link and link_allowed(link, origin):
            try:
                page = await http.get(link, cap=self.settings.max_bytes, timeout=self.settings.timeout)
            except SourceError as exc:
                n = tries.get(h, 0) + 1
                if not permanent(exc) and n < LINK_TRIES:
                    tries[h] = n
                    log.info("feed_link_retry", extra={"fields": {
                        "source": self.settings.name, "host": host_of(link), "error": str(exc), "tries": n}})
                    return [], False
                log.warning("feed_link_skipped", extra={"fields": {"source": self.settings.name,
                                                                   "host": host_of(link), "error": str(exc)}})
        if page is not None and not link_allowed(page.url, origin):
            log.warning("feed_link_skipped", extra={"fields": {"source": self.settings.name, "host": host_of(link),
                                                               "error": "redirected into a private network"}})
            page = None
        items: list[Item] = []
        if page is not None:
            ctype = media_type(page)
            ext = posixpath.splitext(file_name(page.url))[1].lower()
            page_html = ctype in _HTML_TYPES or (not ctype and ext in (".html", ".htm"))
            textual = b"\x00" not in page.body[:1024] and (page_html or ctype in _TEXT_TYPES or (
                not ctype and ext == ".txt"))
            if textual:
                page_text = decoded(page)
                # One document in the page's format, each line of the entry still a line of its own.
                if page_html:
                    head = text if is_html else "".join(f"<p>{html.escape(line)}</p>\n" for line in text.splitlines())
                    text, is_html = f"{head}\n<hr>\n{page_text}", True
                else:
                    text, is_html = f"{html_to_text(text) if is_html else text}\n\n{page_text}", False
            else:
                items.append(Item(external_id=f"{ext_id}#link", body=page.body,
                                  name=file_name(page.url, ctype), url=page.url, published=when))
        entry_item = Item(external_id=ext_id, body=text.encode("utf-8", "replace"),
                          name="entry.html" if is_html else "entry.txt", url=link, published=when)
        return [entry_item] + items, True
