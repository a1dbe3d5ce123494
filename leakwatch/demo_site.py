"""A local replica of a paste site's scraping API, for `leakwatch demo`: real HTTP on loopback.

It speaks the Pastebin scraping wire format (`api_scraping.php?limit=N`, a JSON list newest
first; `api_scrape_item.php?i=KEY`, the raw text), so the demo's daemon polls it with the
same source plugin it would point at the real site.
"""

from __future__ import annotations

import secrets
import string
import time

from aiohttp import web


class PasteSite:
    def __init__(self):
        self.pastes: list[dict] = []  # newest last
        self.texts: dict[str, str] = {}
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def add(self, text: str, title: str = "", syntax: str = "text") -> str:
        key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
        now = int(time.time())
        self.pastes.append({
            "scrape_url": f"{self.base_url}/api_scrape_item.php?i={key}",
            "full_url": f"{self.base_url}/{key}", "date": str(now), "key": key,
            "size": str(len(text.encode())), "expire": "0", "title": title, "syntax": syntax, "user": "",
        })
        self.texts[key] = text
        return key

    async def _list(self, request: web.Request) -> web.Response:
        limit = max(1, min(250, int(request.query.get("limit", "50") or 50)))
        return web.json_response(list(reversed(self.pastes[-limit:])))

    async def _item(self, request: web.Request) -> web.Response:
        text = self.texts.get(request.query.get("i", ""))
        if text is None:
            return web.Response(text="Error, we cannot find this paste.")
        return web.Response(text=text)

    async def start(self) -> str:
        app = web.Application()
        app.add_routes([web.get("/api_scraping.php", self._list), web.get("/api_scrape_item.php", self._item)])
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
