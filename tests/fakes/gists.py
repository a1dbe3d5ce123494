"""A stand-in for GitHub's public gists API: `/gists/public` and the files' `raw_url`s.

Speaks the real formats: the listing is a JSON array of gist objects (newest `updated_at`
first, `since` keeps those updated at or after it), pages through `Link: <...>; rel="next"`,
answers `If-None-Match` with 304, and sends `X-RateLimit-*` headers (a 403 when the quota is
spent, as GitHub does). The test changes `state` between polls.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web


@dataclass
class Gist:
    id: str
    updated_at: str  # ISO 8601, "2024-05-01T10:00:00Z"
    files: dict[str, str]  # filename -> content
    description: str | None = None
    truncated: bool = False
    sizes: dict[str, int] = field(default_factory=dict)  # declared size overrides


@dataclass
class GistsState:
    gists: list[Gist] = field(default_factory=list)
    page_size: int = 100  # caps per_page, to make pagination happen with few gists
    token: str | None = None  # when set, requests must carry "Authorization: Bearer <token>"
    rate_remaining: int = 4999
    rate_reset: int = 0  # epoch seconds
    secondary_retry_after: int | None = None  # answer 403 with Retry-After (a secondary limit)
    next_host: str | None = None  # when set, Link next points at this host instead
    raw_missing: set[str] = field(default_factory=set)  # "gist_id/filename" answering 404
    requests: list[dict] = field(default_factory=list)  # listing requests: query and headers
    not_modified: int = 0  # 304 answers given
    raw_requests: list[dict] = field(default_factory=list)  # raw_url requests: path and headers

    def add(self, gist_id: str, updated_at: str, files: dict[str, str], **kw) -> Gist:
        gist = Gist(gist_id, updated_at, files, **kw)
        self.gists = [g for g in self.gists if g.id != gist_id] + [gist]
        return gist


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def gists_app(state: GistsState) -> web.Application:
    def rate_headers() -> dict[str, str]:
        return {"X-RateLimit-Limit": "5000" if state.token else "60",
                "X-RateLimit-Remaining": str(state.rate_remaining),
                "X-RateLimit-Reset": str(state.rate_reset),
                "X-RateLimit-Resource": "core"}

    def gist_json(g: Gist, host: str) -> dict:
        revision = hashlib.sha1(f"{g.id}{g.updated_at}".encode()).hexdigest()
        return {
            "url": f"{host}/gists/{g.id}", "id": g.id, "node_id": f"G_{g.id}",
            "html_url": f"https://gist.github.com/{g.id}",
            "git_pull_url": f"https://gist.github.com/{g.id}.git",
            "files": {name: {"filename": name, "type": "text/plain", "language": "Text",
                             "raw_url": f"{host}/raw/{g.id}/{revision}/{name}",
                             "size": g.sizes.get(name, len(content.encode()))}
                      for name, content in g.files.items()},
            "public": True, "created_at": g.updated_at, "updated_at": g.updated_at,
            "description": g.description, "comments": 0, "user": None,
            "owner": {"login": "example-user-7", "id": 70007}, "truncated": g.truncated,
        }

    async def listing(request: web.Request) -> web.Response:
        state.requests.append({"query": dict(request.query), "headers": dict(request.headers)})
        if state.token is not None and request.headers.get("Authorization") != f"Bearer {state.token}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        if state.secondary_retry_after is not None:
            return web.json_response({"message": "You have exceeded a secondary rate limit."}, status=403,
                                     headers={**rate_headers(), "Retry-After": str(state.secondary_retry_after)})
        if state.rate_remaining <= 0:
            return web.json_response({"message": "API rate limit exceeded"}, status=403, headers=rate_headers())
        state.rate_remaining -= 1
        since = request.query.get("since")
        per_page = min(int(request.query.get("per_page", "30")), 100, state.page_size)
        page = int(request.query.get("page", "1"))
        chosen = [g for g in state.gists if since is None or _when(g.updated_at) >= _when(since)]
        chosen.sort(key=lambda g: (_when(g.updated_at), g.id), reverse=True)
        host = f"http://{request.host}"
        body = json.dumps([gist_json(g, host) for g in chosen[(page - 1) * per_page:page * per_page]])
        etag = 'W/"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
        headers = {**rate_headers(), "ETag": etag}
        if page * per_page < len(chosen):
            query = {k: v for k, v in request.query.items() if k != "page"}
            next_host = f"http://{state.next_host}" if state.next_host else host
            last = (len(chosen) + per_page - 1) // per_page
            headers["Link"] = (f'<{next_host}/gists/public?{urlencode({**query, "page": page + 1})}>; rel="next", '
                               f'<{host}/gists/public?{urlencode({**query, "page": last})}>; rel="last"')
        if request.headers.get("If-None-Match") == etag:
            state.rate_remaining += 1  # a 304 costs no quota
            state.not_modified += 1
            return web.Response(status=304, headers=headers)
        return web.Response(text=body, content_type="application/json", headers=headers)

    async def raw(request: web.Request) -> web.Response:
        gist_id, name = request.match_info["gist"], request.match_info["name"]
        state.raw_requests.append({"path": f"{gist_id}/{name}", "headers": dict(request.headers)})
        gist = next((g for g in state.gists if g.id == gist_id), None)
        if gist is None or name not in gist.files or f"{gist_id}/{name}" in state.raw_missing:
            return web.Response(status=404, text="404: Not Found")
        return web.Response(text=gist.files[name], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/gists/public", listing)
    app.router.add_get("/raw/{gist}/{revision}/{name}", raw)
    return app
