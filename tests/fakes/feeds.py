"""A stand-in for RSS 2.0 and Atom feeds and the pages their entries link to.

`/rss.xml` and `/atom.xml` serve the entries in `state` (newest first, as feeds do), with an
`ETag` and a `Last-Modified` that change when the entries do, answering 304 to a request
that presents the current one (unless `state.ignore_validators`). `/garbage` answers
something that is not a feed. `/pages/{name}` serves `state.pages`. Every request is
recorded with its conditional headers. The test changes `state` between polls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web


@dataclass
class Entry:
    id: str
    title: str
    summary: str
    link: str  # a path on this server ("/pages/a.html") or an absolute URL
    published: datetime
    html: bool = True  # the summary is HTML (RSS descriptions always are)


@dataclass
class Page:
    body: bytes
    content_type: str
    status: int = 200
    fail_first: int = 0  # answer 503 this many times before answering


@dataclass
class Request:
    path: str
    if_none_match: str | None
    if_modified_since: str | None


@dataclass
class FeedsState:
    rss: list[Entry] = field(default_factory=list)
    atom: list[Entry] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)
    garbage: bytes = b"<!doctype html><html><body><h1>Sorry, we are down for maintenance</h1></body></html>"
    ignore_validators: bool = False  # always answer 200
    feed_status: int = 200  # status of /rss.xml and /atom.xml
    requests: list[Request] = field(default_factory=list)
    not_modified: int = 0  # 304s answered

    def page_requests(self, name: str) -> int:
        return sum(1 for r in self.requests if r.path == f"/pages/{name}")


def _abs(base: str, link: str) -> str:
    return link if link.startswith(("http://", "https://")) else base + link


def rss_xml(entries: list[Entry], base: str) -> bytes:
    items = []
    for e in sorted(entries, key=lambda e: e.published, reverse=True):
        items.append(
            "<item>"
            f"<title>{escape(e.title)}</title>"
            f"<link>{escape(_abs(base, e.link))}</link>"
            f"<guid isPermaLink=\"false\">{escape(e.id)}</guid>"
            f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>"
            f"<description>{escape(e.summary)}</description>"
            "</item>")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>"
            "<title>Breach news (synthetic)</title>"
            f"<link>{escape(base)}/</link><description>Synthetic test feed</description>"
            + "".join(items) + "</channel></rss>\n").encode()


def atom_xml(entries: list[Entry], base: str) -> bytes:
    parts = []
    for e in sorted(entries, key=lambda e: e.published, reverse=True):
        kind = "html" if e.html else "text"
        parts.append(
            "<entry>"
            f"<id>{escape(e.id)}</id>"
            f"<title>{escape(e.title)}</title>"
            f"<link rel=\"alternate\" type=\"text/html\" href={quoteattr(_abs(base, e.link))}/>"
            f"<published>{e.published.isoformat()}</published>"
            f"<updated>{e.published.isoformat()}</updated>"
            f"<summary type=\"{kind}\">{escape(e.summary)}</summary>"
            "</entry>")
    updated = max((e.published for e in entries), default=datetime(2024, 1, 1, tzinfo=timezone.utc))
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
            "<id>tag:feeds.example,2024:leaks</id><title>Leak tracker (synthetic)</title>"
            f"<updated>{updated.isoformat()}</updated>"
            + "".join(parts) + "</feed>\n").encode()


def feeds_app(state: FeedsState) -> web.Application:
    def record(request: web.Request) -> None:
        state.requests.append(Request(request.path, request.headers.get("If-None-Match"),
                                      request.headers.get("If-Modified-Since")))

    def feed(entries: list[Entry], body: bytes, content_type: str, request: web.Request) -> web.Response:
        record(request)
        if state.feed_status != 200:
            return web.Response(status=state.feed_status, text="unavailable")
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        newest = max((e.published for e in entries), default=datetime(2024, 1, 1, tzinfo=timezone.utc))
        modified = format_datetime(newest, usegmt=True)
        if not state.ignore_validators:
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            if (inm is not None and inm == etag) or (inm is None and ims == modified):
                state.not_modified += 1
                return web.Response(status=304, headers={"ETag": etag, "Last-Modified": modified})
        return web.Response(body=body, content_type=content_type, charset="utf-8",
                            headers={"ETag": etag, "Last-Modified": modified})

    async def rss(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return feed(state.rss, rss_xml(state.rss, base), "application/rss+xml", request)

    async def atom(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return feed(state.atom, atom_xml(state.atom, base), "application/atom+xml", request)

    async def garbage(request: web.Request) -> web.Response:
        record(request)
        return web.Response(body=state.garbage, content_type="text/html")

    async def page(request: web.Request) -> web.Response:
        record(request)
        p = state.pages.get(request.match_info["name"])
        if p is None:
            return web.Response(status=404, text="not found")
        if p.fail_first > 0:
            p.fail_first -= 1
            return web.Response(status=503, text="try later")
        return web.Response(status=p.status, body=p.body, headers={"Content-Type": p.content_type})

    app = web.Application()
    app.router.add_get("/rss.xml", rss)
    app.router.add_get("/atom.xml", atom)
    app.router.add_get("/garbage", garbage)
    app.router.add_get("/pages/{name}", page)
    return app
