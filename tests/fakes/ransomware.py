"""Stand-ins for the ransomware leak-site trackers: ransomwatch `posts.json` and ransomware.live
`/v2/recentvictims`. Synthetic postings only; the test changes `state` between polls."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web


def ransomwatch_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class TrackerState:
    posts: list[dict] = field(default_factory=list)  # ransomwatch posts.json entries
    victims: list[dict] = field(default_factory=list)  # ransomware.live recentvictims entries
    status: int = 200
    retry_after: str | None = None
    raw: bytes | None = None  # answer this body instead
    hits: int = 0

    def post(self, title: str, group: str, when: datetime) -> dict:
        p = {"post_title": title, "group_name": group, "discovered": ransomwatch_time(when)}
        self.posts.append(p)
        return p

    def victim(self, victim: str, group: str, when: datetime, **extra) -> dict:
        v = {"victim": victim, "group": group, "discovered": ransomwatch_time(when),
             "attackdate": when.strftime("%Y-%m-%d 00:00:00"), "country": "GB", "activity": "Business Services",
             "domain": "", "description": "", "claim_url": f"http://{group}leaks.onion.example/post/1",
             "url": f"https://tracker.example/id/{len(self.victims)}", "screenshot": ""}
        v.update(extra)
        self.victims.append(v)
        return v


def tracker_app(state: TrackerState) -> web.Application:
    def answer(data: list[dict]) -> web.Response:
        state.hits += 1
        if state.status != 200:
            headers = {"Retry-After": state.retry_after} if state.retry_after else {}
            return web.Response(status=state.status, text="slow down", headers=headers)
        if state.raw is not None:
            return web.Response(body=state.raw, content_type="application/json")
        return web.Response(text=json.dumps(data), content_type="application/json")

    async def posts(request: web.Request) -> web.Response:
        return answer(state.posts)

    async def recent(request: web.Request) -> web.Response:
        return answer(sorted(state.victims, key=lambda v: v["discovered"], reverse=True)[:100])

    app = web.Application()
    app.router.add_get("/posts.json", posts)
    app.router.add_get("/v2/recentvictims", recent)
    return app
