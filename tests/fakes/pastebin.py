"""A stand-in for Pastebin's scraping API: `api_scraping.php` and `api_scrape_item.php`.

Speaks the real formats: the listing is a JSON array, newest first, of objects whose values
are all strings; errors come with status 200 and a plain-text body. The test changes `state`
between polls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

NO_ACCESS = ("YOUR IP: 192.0.2.10 DOES NOT HAVE ACCESS. VISIT: https://pastebin.com/doc_scraping_api "
             "TO GET ACCESS!")
NOT_READY = "File is not ready for scraping yet. Try again in 1 minute."
GONE = "Error, we cannot find this paste."


@dataclass
class Paste:
    key: str
    date: int
    text: str
    title: str = ""
    syntax: str = "text"
    user: str = ""
    size: int | None = None  # declared size; len(text) when None


@dataclass
class PastebinState:
    pastes: list[Paste] = field(default_factory=list)
    not_ready: set[str] = field(default_factory=set)  # item answers "not ready" while listed here
    gone: set[str] = field(default_factory=set)  # item answers "cannot find"
    no_access: bool = False  # every answer is the IP error
    no_access_items: bool = False  # item answers are the IP error (the listing still works)
    fail: set[str] = field(default_factory=set)  # item answers HTTP 500
    listing_text: str | None = None  # when set, the listing answers this text instead
    item_requests: list[str] = field(default_factory=list)  # keys asked for, in order
    listing_limits: list[str] = field(default_factory=list)  # the `limit` of each listing request

    def add(self, key: str, date: int, text: str, **kw) -> Paste:
        paste = Paste(key, date, text, **kw)
        self.pastes.append(paste)
        return paste


def pastebin_app(state: PastebinState) -> web.Application:
    async def listing(request: web.Request) -> web.Response:
        state.listing_limits.append(request.query.get("limit", ""))
        if state.no_access:
            return web.Response(text=NO_ACCESS, content_type="text/html")
        if state.listing_text is not None:
            return web.Response(text=state.listing_text, content_type="text/html")
        limit = int(request.query.get("limit", "50"))
        newest = sorted(state.pastes, key=lambda p: (p.date, p.key), reverse=True)[:limit]
        host = f"http://{request.host}"
        body = [{
            "scrape_url": f"{host}/api_scrape_item.php?i={p.key}",
            "full_url": f"https://pastebin.com/{p.key}",
            "date": str(p.date),
            "key": p.key,
            "size": str(len(p.text.encode()) if p.size is None else p.size),
            "expire": "0",
            "title": p.title,
            "syntax": p.syntax,
            "user": p.user,
            "hits": "3",
        } for p in newest]
        return web.Response(text=json.dumps(body), content_type="application/json")

    async def item(request: web.Request) -> web.Response:
        key = request.query.get("i", "")
        state.item_requests.append(key)
        if state.no_access or state.no_access_items:
            return web.Response(text=NO_ACCESS, content_type="text/html")
        if key in state.fail:
            return web.Response(status=500, text="Internal Server Error")
        if key in state.not_ready:
            return web.Response(text=NOT_READY, content_type="text/html")
        paste = next((p for p in state.pastes if p.key == key), None)
        if paste is None or key in state.gone:
            return web.Response(text=GONE, content_type="text/html")
        return web.Response(text=paste.text, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/api_scraping.php", listing)
    app.router.add_get("/api_scrape_item.php", item)
    return app
