"""GitHub public gists: `GET {base}/gists/public?since=...&per_page=100`, one page per poll.

Each file of each listed gist is fetched from its `raw_url` and becomes an item whose
external id carries the gist's `updated_at`, so an edited gist is a new version. Pages are
followed through the `Link: <...>; rel="next"` header, one page per poll with `more=True`,
up to `max_pages` pages per pass; the `since` mark advances when a pass ends.

Quota: the first page of a pass is requested with `If-None-Match` (the last ETag) and a 304
means nothing new. `X-RateLimit-Remaining: 0` (on a 200 or on the 403 GitHub sends when the
quota is spent) makes the poll return `wait` = seconds until `X-RateLimit-Reset`; a 403 or 429
with `Retry-After` (secondary limits) likewise. The token, when configured, is sent to the API
base only, never to raw_url hosts or to a `next` link that points elsewhere.

Cursor: `{"since": ISO time of the newest gist seen, "ids": gist ids seen at that instant,
"etag": last ETag of a first page, "next": URL of the next page of the pass in progress,
"page": pages fetched in that pass, "high"/"high_ids": the newest seen in that pass}`.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

from leakwatch.http import Http, Response, SourceError, TooLarge, parse_retry_after
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import iso as _iso
from sources._options import number_option, read_secret, unknown_options
from sources._options import parse_time as _parse_time

log = logging.getLogger("leakwatch.sources.gists")

DEFAULT_BASE = "https://api.github.com"
PER_PAGE = 100
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_OPTIONS = {"token_file", "max_pages"}
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')




def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


class GistsSource:
    kind: ClassVar[str] = "gists"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        self.max_pages = number_option(opts, "max_pages", 30, minimum=1, integer=True,
                                       expected="an integer of at least 1")
        self.token = read_secret(opts["token_file"], "token_file") if "token_file" in opts else None
        self.base = (settings.base_url or DEFAULT_BASE).rstrip("/")

    def __repr__(self) -> str:  # the token never reaches a log line
        return f"GistsSource({self.settings.name!r})"

    def _api_headers(self) -> dict[str, str]:
        headers = dict(API_HEADERS)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        cur = dict(cursor or {})
        since = _parse_time(cur.get("since"))
        seen_ids = set(cur.get("ids") or [])
        headers = self._api_headers()
        next_url = cur.get("next")
        if next_url:
            resp = await http.get(next_url, cap=self.settings.max_bytes, headers=headers,
                                  timeout=self.settings.timeout, ok=(200, 403))
            page = int(cur.get("page", 1)) + 1
        else:
            params = {"per_page": str(PER_PAGE)}
            if since is not None:
                params["since"] = _iso(since)
            if cur.get("etag"):
                headers["If-None-Match"] = cur["etag"]
            resp = await http.get(f"{self.base}/gists/public", cap=self.settings.max_bytes, headers=headers,
                                  params=params, timeout=self.settings.timeout, ok=(200, 304, 403))
            page = 1
            cur.pop("high", None)
            cur.pop("high_ids", None)

        wait = self._rate_wait(resp)
        if resp.status == 403:
            if wait is None:
                raise SourceError(f"gists: HTTP 403 from the API ({'token refused or lacks access' if self.token else 'forbidden'})",
                                  status=403)
            return Poll([], cursor, wait=wait)
        if resp.status == 304:
            return Poll([], cursor, wait=wait)

        if page == 1 and resp.headers.get("ETag"):
            cur["etag"] = resp.headers["ETag"]
        data = resp.json()
        if not isinstance(data, list):
            raise SourceError("gists: listing is not a JSON array", status=resp.status)

        high = _parse_time(cur.get("high"))
        high_ids = set(cur.get("high_ids") or [])
        items: list[Item] = []
        for gist in data:
            if not isinstance(gist, dict) or not isinstance(gist.get("id"), str):
                continue
            updated = _parse_time(gist.get("updated_at"))
            if updated is None:
                continue
            gist_id = gist["id"]
            if since is not None and (updated < since or (updated == since and gist_id in seen_ids)):
                continue
            if high is None or updated > high:
                high, high_ids = updated, {gist_id}
            elif updated == high:
                high_ids.add(gist_id)
            items.extend(await self._files(http, gist, updated))

        nxt = self._next_link(resp)
        if nxt and page < self.max_pages:
            cur.update({"next": nxt, "page": page,
                        "high": _iso(high) if high else None, "high_ids": sorted(high_ids)})
            return Poll(items, cur, more=wait is None, wait=wait)
        if nxt:
            log.warning("gists: page limit reached; older gists of this pass are not fetched",
                        extra={"fields": {"source": self.settings.name, "max_pages": self.max_pages}})
        # The pass is over: advance the since mark to the newest gist seen in it.
        for key in ("next", "page", "high", "high_ids"):
            cur.pop(key, None)
        if high is not None and (since is None or high > since):
            cur["since"], cur["ids"] = _iso(high), sorted(high_ids)
        elif high is not None and high == since:
            cur["ids"] = sorted(seen_ids | high_ids)
        return Poll(items, cur, wait=wait)

    def _next_link(self, resp: Response) -> str | None:
        link = resp.headers.get("Link")
        if not link:
            return None
        match = _NEXT.search(link)
        if not match:
            return None
        url = match.group(1)
        if _origin(url) != _origin(self.base):
            # Following it would send the token to another host.
            log.warning("gists: next link points off the API host; not followed",
                        extra={"fields": {"source": self.settings.name}})
            return None
        return url

    @staticmethod
    def _rate_wait(resp: Response) -> float | None:
        retry = parse_retry_after(resp.headers.get("Retry-After"))
        if retry is not None and resp.status in (403, 429):
            return max(1.0, retry)
        if resp.headers.get("X-RateLimit-Remaining", "").strip() == "0":
            try:
                reset = float(resp.headers.get("X-RateLimit-Reset", ""))
            except ValueError:
                return 60.0
            return max(1.0, reset - time.time())
        return None

    async def _files(self, http: Http, gist: dict, updated: datetime) -> list[Item]:
        gist_id = gist["id"]
        files = gist.get("files")
        if not isinstance(files, dict):
            return []
        description = gist.get("description")
        prefix = f"Description: {description.strip()}\n".encode() if isinstance(description, str) and description.strip() else b""
        html_url = gist.get("html_url") if isinstance(gist.get("html_url"), str) else None
        out = []
        for key, meta in files.items():
            if not isinstance(meta, dict):
                continue
            filename = meta.get("filename") if isinstance(meta.get("filename"), str) else key
            raw_url = meta.get("raw_url")
            if not isinstance(raw_url, str) or not raw_url.startswith(("https://", "http://")):
                continue
            size = meta.get("size")
            if isinstance(size, int) and not isinstance(size, bool) and size > self.settings.max_bytes:
                log.info("gist file skipped: size over max_bytes",
                         extra={"fields": {"source": self.settings.name, "gist": gist_id, "size": size}})
                continue
            try:
                resp = await http.get(raw_url, cap=self.settings.max_bytes, timeout=self.settings.timeout)
            except TooLarge:
                log.info("gist file skipped: body over max_bytes",
                         extra={"fields": {"source": self.settings.name, "gist": gist_id}})
                continue
            except SourceError as exc:
                if exc.status in (404, 410):  # deleted between listing and fetch
                    continue
                raise
            out.append(Item(
                external_id=f"{gist_id}/{filename}@{_iso(updated)}",
                body=prefix + resp.body,
                name=filename,
                url=html_url,
                published=updated,
            ))
        return out
