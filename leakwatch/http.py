"""The one HTTP client every source polls with: timeouts, caps, backoff, politeness.

- one `aiohttp.ClientSession` per process, explicit connect / read / total timeouts;
- at most `per_host` requests in flight to one host;
- bodies streamed with a byte cap that counts *decompressed* bytes (a gzip bomb stops at the
  cap, not at the end of memory), so a 2 GB answer costs `cap` bytes at most;
- bounded redirects; a User-Agent naming leakwatch and its version;
- 429 and 5xx retried a few times with exponential backoff and jitter, honouring
  `Retry-After` (seconds or an HTTP date) up to `max_wait`; beyond that a `RateLimited`
  error carries the wait back to the runner, which pauses the source instead of a task.

Sources import this module (it is one of the helpers the core exposes to plugins); it never
logs bodies or URLs' query strings, which may carry tokens.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

import aiohttp

from leakwatch import __version__

USER_AGENT = f"leakwatch/{__version__} (+https://github.com/leakwatch/leakwatch; staff-data leak watcher)"


class SourceError(Exception):
    """An upstream failed or lied; the message is for the operator (no body, no token)."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RateLimited(SourceError):
    """The upstream asked us to wait longer than one call should (429/503 with Retry-After)."""


class TooLarge(SourceError):
    """The body went past the cap (counted after decompression)."""


@dataclass(slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"{host_of(self.url)}: answer is not JSON ({type(exc).__name__} at "
                              f"{getattr(exc, 'pos', '?')})", status=self.status) from None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url[:60]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2 ** attempt)))


class Http:
    """Shared HTTP client. Use as `async with Http() as http:`; sources call `get`/`post`."""

    def __init__(self, *, per_host: int = 4, connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 total_timeout: float = 120.0, max_redirects: int = 5, retries: int = 2,
                 max_wait: float = 30.0, backoff_base: float = 0.5, user_agent: str = USER_AGENT):
        self.per_host = per_host
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout,
                                             sock_read=read_timeout)
        self.max_redirects = max_redirects
        self.retries = retries
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> "Http":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=100, limit_per_host=self.per_host, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout,
                                                  headers={"User-Agent": self.user_agent},
                                                  auto_decompress=True, raise_for_status=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _slot(self, url: str) -> asyncio.Semaphore:
        host = host_of(url)
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.per_host)
        return sem

    async def get(self, url: str, *, cap: int, headers: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None, timeout: float | None = None,
                  ok: tuple[int, ...] = (200,)) -> Response:
        return await self.request("GET", url, cap=cap, headers=headers, params=params, timeout=timeout, ok=ok)

    async def post(self, url: str, *, cap: int, data: bytes | None = None, headers: Mapping[str, str] | None = None,
                   timeout: float | None = None, ok: tuple[int, ...] = (200, 201, 202, 204)) -> Response:
        return await self.request("POST", url, cap=cap, data=data, headers=headers, timeout=timeout, ok=ok)

    async def request(self, method: str, url: str, *, cap: int, headers=None, params=None, data=None,
                      timeout: float | None = None, ok: tuple[int, ...] = (200,)) -> Response:
        """One request with retries on connection errors, 429 and 5xx. Statuses in `ok` return a
        Response; any other final status raises SourceError (RateLimited for long waits)."""
        if self._session is None:
            await self.start()
        host = host_of(url)
        attempt = 0
        while True:
            try:
                resp = await self._once(method, url, cap=cap, headers=headers, params=params, data=data,
                                        timeout=timeout)
            except TooLarge:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                if attempt >= self.retries:
                    kind = "timed out" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
                    raise SourceError(f"{host}: {kind} after {attempt + 1} attempt(s)") from None
                await asyncio.sleep(backoff(attempt, self.backoff_base, self.max_wait))
                attempt += 1
                continue
            if resp.status in ok:
                return resp
            wait = parse_retry_after(resp.headers.get("Retry-After"))
            retryable = resp.status == 429 or resp.status >= 500
            if not retryable:
                raise SourceError(f"{host}: HTTP {resp.status}", status=resp.status, retry_after=wait)
            if wait is not None and wait > self.max_wait:
                raise RateLimited(f"{host}: HTTP {resp.status}, asked to wait {wait:.0f}s",
                                  retry_after=wait, status=resp.status)
            if attempt >= self.retries:
                cls = RateLimited if resp.status == 429 else SourceError
                raise cls(f"{host}: HTTP {resp.status} after {attempt + 1} attempt(s)",
                          retry_after=wait, status=resp.status)
            await asyncio.sleep(wait if wait is not None else backoff(attempt, self.backoff_base, self.max_wait))
            attempt += 1

    async def _once(self, method, url, *, cap, headers, params, data, timeout) -> Response:
        assert self._session is not None
        kwargs: dict[str, Any] = {"headers": headers, "params": params, "data": data,
                                  "max_redirects": self.max_redirects, "allow_redirects": True}
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout * 2, connect=min(timeout, self.timeout.connect or timeout),
                                                      sock_read=timeout)
        async with self._slot(url):
            async with self._session.request(method, url, **kwargs) as resp:
                declared = resp.content_length
                if declared is not None and declared > cap and "Content-Encoding" not in resp.headers:
                    raise TooLarge(f"{host_of(url)}: body of {declared} bytes is over the {cap}-byte cap",
                                   status=resp.status)
                chunks: list[bytes] = []
                size = 0
                # resp.content yields decompressed bytes: the cap counts what we would hold.
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > cap:
                        raise TooLarge(f"{host_of(url)}: body over the {cap}-byte cap (decompressed)",
                                       status=resp.status)
                    chunks.append(chunk)
                return Response(resp.status, resp.headers, b"".join(chunks), str(resp.url))
