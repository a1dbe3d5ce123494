"""The one HTTP client every source polls with: timeouts, caps, backoff, politeness.

- one `aiohttp.ClientSession` per process, explicit connect / read / total timeouts, where
  `total` bounds one attempt from the moment it asks for a slot to the last byte of the body
  (redirect hops included), whatever the server does: hang, trickle, lie;
- at most `per_host` requests in flight to one host (host:port);
- bodies streamed with a byte cap that counts *decompressed* bytes (a gzip bomb stops at the
  cap, not at the end of memory), so a 2 GB answer costs `cap` bytes at most; only
  `gzip, deflate` are offered, and bodies of answers that are not returned are never read;
- redirects followed here, not by aiohttp: at most `max_redirects` hops, a loop ends at once,
  only http/https, never https -> http, and the caller's headers (tokens) do not follow a
  redirect to another origin;
- a User-Agent naming leakwatch and its version; no cookie jar (no state between sources);
- 408, 429 and 5xx retried a few times with exponential backoff and full jitter, honouring
  `Retry-After` (seconds or an HTTP date) up to `max_wait`; beyond that a `RateLimited`
  error carries the wait back to the runner, which pauses the source instead of a task.

Every failure is a `SourceError` (or subclass) whose message names the host and the problem.
Messages never hold the URL's path or query string, a header value or a byte of the body
(they may carry tokens or leaked data): aiohttp's own exception texts do (the URL with its
query, the first 100 bytes of an over-long header), so they are never passed on, and the
original exception is dropped (`from None`) so that a logged traceback does not show it.
`docs/operations.md` ("HTTP client") lists the limits and their defaults.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import errno as errno_mod
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from leakwatch import __version__

USER_AGENT = f"leakwatch/{__version__} (+https://github.com/leakwatch/leakwatch; staff-data leak watcher)"

ACCEPT_ENCODING = "gzip, deflate"
"""Offered explicitly: aiohttp would add `br` / `zstd` whenever Brotli or backports.zstd happen
to be installed. The cap holds for any encoding aiohttp decodes; offering only two keeps the
set of decoders a hostile server can reach small."""

MAX_RETRY_AFTER = 86_400.0
"""A `Retry-After` beyond a day is taken as a day: a hostile server must not park a source forever."""

REDIRECTS = (301, 302, 303, 307, 308)
# 5xx that say "this will never work" rather than "not now": not retried.
PERMANENT_5XX = frozenset({501, 505, 506, 508, 510, 511})
# POST is not idempotent: it is retried only when the server cannot have acted on it.
RETRYABLE_UNSAFE = frozenset({429, 503})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Request headers that may follow a redirect to another origin; all others (Authorization,
# Cookie, X-Api-Key, ...) are dropped there.
CROSS_ORIGIN_HEADERS = frozenset({"accept", "accept-language", "accept-encoding", "user-agent"})
CHUNK = 64 * 1024


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
    url: str  # the final URL, query string included: do not log it

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except RecursionError:
            raise SourceError(f"{host_of(self.url)}: answer is not usable JSON (nested too deeply)",
                              status=self.status) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"{host_of(self.url)}: answer is not JSON ({type(exc).__name__} at "
                              f"{getattr(exc, 'pos', '?')})", status=self.status) from None

    def text(self) -> str:
        """The body as text: the charset named by Content-Type if Python knows it, else UTF-8;
        undecodable bytes become U+FFFD."""
        return self.body.decode(_charset(self.headers.get("Content-Type")), "replace")


_CHARSET_RE = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9._:-]{1,40})", re.I)


def _charset(content_type: str | None) -> str:
    m = _CHARSET_RE.search(content_type or "")
    if m:
        try:
            return codecs.lookup(m.group(1)).name
        except LookupError:
            pass
    return "utf-8"


def host_of(url: str | URL) -> str:
    """`host` or `host:port` of a URL, for messages: no user info, path or query."""
    parts = urlsplit(str(url))
    host = parts.hostname
    if not host:
        return "invalid URL"
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port is not None else host


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date; None if absent or
    bad. A date in the past gives 0; any value is capped at `MAX_RETRY_AFTER` (a day)."""
    if not value:
        return None
    value = value.strip()
    if len(value) > 64:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322, naive by Python
        when = when.replace(tzinfo=timezone.utc)
    try:
        delta = when.timestamp() - (time.time() if now is None else now)
    except (OverflowError, OSError, ValueError):
        return None
    return min(max(0.0, delta), MAX_RETRY_AFTER)


def backoff(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2 ** min(attempt, 62))))


class _Fail(Exception):
    """Internal: one attempt failed; `retry` says whether another attempt may help."""

    def __init__(self, error: SourceError, retry: bool, unsafe_retry: bool = False):
        self.error = error
        self.retry = retry
        self.unsafe_retry = unsafe_retry  # may be retried even for POST (the request never left)


class Http:
    """Shared HTTP client. Use as `async with Http() as http:`; sources call `get`/`post`.

    Limits (seconds unless said): `connect_timeout` for the TCP/TLS connection,
    `read_timeout` for any silence while reading headers or body, `total_timeout` for one
    attempt end to end (waiting for a per-host slot, redirects and the body included);
    `per_host` requests in flight per host:port; `max_redirects` hops; `retries` extra attempts
    after the first on connection errors, read timeouts, 408, 429 and 5xx; `max_wait` the
    longest `Retry-After` (or backoff) one call sleeps through; `backoff_base` the first backoff
    step; `max_header_size` the longest response header line (status line or one field).
    """

    def __init__(self, *, per_host: int = 4, connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 total_timeout: float = 120.0, max_redirects: int = 5, retries: int = 2,
                 max_wait: float = 30.0, backoff_base: float = 0.5, user_agent: str = USER_AGENT,
                 max_header_size: int = 8190, trust_env: bool = False):
        if per_host < 1:
            raise ValueError("per_host: must be at least 1")
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout),
                            ("total_timeout", total_timeout)):
            if not value > 0:
                raise ValueError(f"{name}: must be a positive number of seconds")
        if max_redirects < 0 or retries < 0 or max_wait < 0 or backoff_base < 0:
            raise ValueError("max_redirects, retries, max_wait and backoff_base must not be negative")
        self.per_host = per_host
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.total_timeout = float(total_timeout)
        # What aiohttp enforces itself; `total` is enforced here, around the whole attempt.
        self.timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout,
                                             sock_connect=self.connect_timeout, sock_read=self.read_timeout)
        self.max_redirects = max_redirects
        self.retries = retries
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self.user_agent = user_agent
        self.max_header_size = max_header_size
        self.trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, list] = {}  # host -> [Semaphore, users]; dropped when unused

    async def __aenter__(self) -> "Http":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        if self._session is None:
            extra = {"enable_cleanup_closed": True} if sys.version_info < (3, 12, 7) else {}
            connector = aiohttp.TCPConnector(limit=100, limit_per_host=self.per_host, ttl_dns_cache=300, **extra)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout,
                headers={"User-Agent": self.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
                auto_decompress=True, raise_for_status=False, cookie_jar=aiohttp.DummyCookieJar(),
                max_line_size=self.max_header_size, max_field_size=self.max_header_size,
                trust_env=self.trust_env)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # -- per-host slots -------------------------------------------------------------------

    async def _acquire(self, host: str) -> None:
        entry = self._hosts.get(host)
        if entry is None:
            entry = self._hosts[host] = [asyncio.Semaphore(self.per_host), 0]
        entry[1] += 1
        try:
            await entry[0].acquire()
        except BaseException:
            self._drop(host, entry)
            raise

    def _release(self, host: str) -> None:
        entry = self._hosts[host]
        entry[0].release()
        self._drop(host, entry)

    def _drop(self, host: str, entry: list) -> None:
        entry[1] -= 1
        if entry[1] == 0 and self._hosts.get(host) is entry:
            del self._hosts[host]

    # -- public calls ---------------------------------------------------------------------

    async def get(self, url: str, *, cap: int, headers: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None, timeout: float | None = None,
                  ok: tuple[int, ...] = (200,)) -> Response:
        return await self.request("GET", url, cap=cap, headers=headers, params=params, timeout=timeout, ok=ok)

    async def post(self, url: str, *, cap: int, data: bytes | None = None, headers: Mapping[str, str] | None = None,
                   timeout: float | None = None, ok: tuple[int, ...] = (200, 201, 202, 204)) -> Response:
        return await self.request("POST", url, cap=cap, data=data, headers=headers, timeout=timeout, ok=ok)

    async def request(self, method: str, url: str, *, cap: int, headers=None, params=None, data=None,
                      timeout: float | None = None, ok: tuple[int, ...] = (200,)) -> Response:
        """One request with retries on connection errors, read timeouts, 408, 429 and 5xx (for
        POST: only when the request cannot have been acted on: connection not made, 429, 503).
        Statuses in `ok` return a Response whose body is at most `cap` bytes after
        decompression; any other final status raises SourceError (RateLimited when the server
        asks for a wait longer than `max_wait`, or keeps answering 429).

        `timeout` overrides `total_timeout` for this call (each attempt), and lowers the
        connect and read timeouts to it if they are longer.
        """
        if not isinstance(cap, int) or cap < 0:
            raise ValueError("cap: must be a whole number of bytes")
        if self._session is None:
            await self.start()
        method = method.upper()
        host = host_of(url)
        total = self.total_timeout if timeout is None else float(timeout)
        if not total > 0:
            raise ValueError("timeout: must be a positive number of seconds")
        aio_timeout = self.timeout if timeout is None else aiohttp.ClientTimeout(
            total=None, connect=min(self.connect_timeout, total), sock_connect=min(self.connect_timeout, total),
            sock_read=min(self.read_timeout, total))
        safe = method in SAFE_METHODS
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(total) as deadline:
                    try:
                        return await self._attempt(method, url, cap=cap, headers=headers, params=params,
                                                   data=data, ok=ok, aio_timeout=aio_timeout)
                    except TimeoutError:
                        if deadline.expired():
                            raise
                        raise _Fail(SourceError(f"{host}: timed out"), retry=True) from None
            except TimeoutError:
                # The deadline of the attempt: the server hung or trickled. Not retried: another
                # attempt would most likely cost as much again; the next poll is the retry.
                raise SourceError(f"{host}: timed out: no complete answer within the {total:g}s total timeout"
                                  ) from None
            except _Fail as fail:
                err = fail.error
                may_retry = fail.retry and (safe or fail.unsafe_retry)
                if not may_retry:
                    raise err from None
                if isinstance(err, RateLimited) and err.retry_after is not None and err.retry_after > self.max_wait:
                    raise err from None
                if attempt >= self.retries:
                    if attempt:
                        err.args = (f"{err.args[0]} (after {attempt + 1} attempts)",)
                    raise err from None
                if err.retry_after is not None:
                    delay = err.retry_after + random.uniform(0, min(1.0, 0.1 * err.retry_after))
                else:
                    delay = backoff(attempt, self.backoff_base, self.max_wait)
                await asyncio.sleep(delay)
                attempt += 1

    # -- one attempt: slots, redirects, status, body --------------------------------------

    async def _attempt(self, method: str, url: str, *, cap: int, headers, params, data, ok,
                       aio_timeout: aiohttp.ClientTimeout) -> Response:
        assert self._session is not None
        host = host_of(url)
        try:
            target = URL(url)
        except (ValueError, TypeError):
            raise _Fail(SourceError(f"{host}: invalid URL"), retry=False) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise _Fail(SourceError(f"{host}: invalid URL (only http and https)"), retry=False)
        origin = _origin(target)
        hdrs = dict(headers or {})
        seen: set[tuple[str, str]] = set()
        hops = 0
        while True:
            host = host_of(target)
            await self._acquire(host)
            try:
                resp = await self._send(method, target, host, headers=hdrs, params=params, data=data,
                                        aio_timeout=aio_timeout)
                try:
                    status = resp.status
                    if status in ok:
                        body = await self._read(resp, host, cap, aio_timeout.sock_read)
                        out = Response(status, resp.headers, body, str(resp.url))
                        resp.release()
                        return out
                    if status in REDIRECTS and resp.headers.get("Location") is not None:
                        location = resp.headers.get("Location", "")
                        current = resp.url
                        resp.close()  # an unread body: the connection is not reused
                    else:
                        resp.close()
                        raise _Fail(*self._status_error(host, status, resp.headers))
                except BaseException:
                    resp.close()
                    raise
            finally:
                self._release(host)
            # A redirect: decide where to, with what.
            hops += 1
            seen.add((method, str(current)))
            if hops > self.max_redirects:
                raise _Fail(SourceError(f"{host}: too many redirects (more than {self.max_redirects})",
                                        status=status), retry=False)
            target, problem = next_hop(current, location)
            if problem:
                raise _Fail(SourceError(f"{host}: redirect refused: {problem}", status=status), retry=False)
            if status == 303 and method != "HEAD" or status in (301, 302) and method == "POST":
                method, data = "GET", None
                hdrs = {k: v for k, v in hdrs.items() if k.lower() not in ("content-type", "content-length")}
            if (method, str(target)) in seen:
                raise _Fail(SourceError(f"{host}: redirect loop", status=status), retry=False)
            if _origin(target) != origin:
                hdrs = {k: v for k, v in hdrs.items() if k.lower() in CROSS_ORIGIN_HEADERS}
            params = None  # already part of the URL redirected from

    async def _send(self, method: str, target: URL, host: str, *, headers, params, data,
                    aio_timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """Send one request and read the status line and headers; aiohttp errors become _Fail."""
        assert self._session is not None
        try:
            return await self._session.request(method, target, headers=headers, params=params, data=data,
                                               allow_redirects=False, timeout=aio_timeout)
        except aiohttp.ClientConnectorCertificateError:
            raise _Fail(SourceError(f"{host}: TLS certificate not valid for this host"), retry=False) from None
        except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch):
            raise _Fail(SourceError(f"{host}: TLS handshake failed"), retry=False) from None
        except aiohttp.ConnectionTimeoutError:
            raise _Fail(SourceError(f"{host}: connect timed out after {aio_timeout.connect:g}s"),
                        retry=True, unsafe_retry=True) from None
        except aiohttp.ClientConnectorDNSError:
            raise _Fail(SourceError(f"{host}: name does not resolve"), retry=True, unsafe_retry=True) from None
        except aiohttp.ClientConnectorError as exc:
            raise _Fail(SourceError(f"{host}: cannot connect ({_os_reason(exc)})"),
                        retry=True, unsafe_retry=True) from None
        except aiohttp.InvalidURL:
            raise _Fail(SourceError(f"{host}: invalid URL"), retry=False) from None
        except (ValueError, TypeError):  # raised before sending: a header with a newline, a bad body type
            raise _Fail(SourceError(f"{host}: request not sent: a header, parameter or body is not valid"),
                        retry=False) from None
        except aiohttp.ClientResponseError as exc:
            # Raised by the response parser before any status was usable: the answer broke HTTP.
            raise _Fail(SourceError(f"{host}: {_parser_reason(exc, self.max_header_size)}"), retry=False) from None
        except aiohttp.ClientPayloadError:
            raise _Fail(SourceError(f"{host}: answer broken off or badly encoded"), retry=True) from None
        except aiohttp.ServerDisconnectedError:
            raise _Fail(SourceError(f"{host}: server closed the connection without an answer"), retry=True) from None
        except aiohttp.SocketTimeoutError:
            raise _Fail(SourceError(f"{host}: no answer for {aio_timeout.sock_read:g}s (read timeout)"),
                        retry=True) from None
        except aiohttp.ClientError as exc:
            raise _Fail(SourceError(f"{host}: request failed ({type(exc).__name__})"), retry=True) from None
        except OSError as exc:
            raise _Fail(SourceError(f"{host}: request failed ({_os_reason(exc)})"), retry=True) from None

    async def _read(self, resp: aiohttp.ClientResponse, host: str, cap: int, read_timeout: float | None) -> bytes:
        """The body, decompressed, at most `cap` bytes; TooLarge (not retried) past it."""
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        named = encoding if encoding in ("gzip", "deflate", "br", "zstd", "identity") else "unknown"  # no header text
        declared = resp.content_length
        if declared is not None and declared > cap and encoding in ("", "identity"):
            raise _Fail(TooLarge(f"{host}: body of {declared} bytes announced, over the {cap}-byte cap",
                                 status=resp.status), retry=False)
        buf = bytearray()
        try:
            # resp.content yields decompressed bytes, and aiohttp (>= 3.13.3) inflates no faster
            # than they are read: the cap counts what we would hold.
            async for chunk in resp.content.iter_chunked(CHUNK):
                if len(buf) + len(chunk) > cap:
                    raise _Fail(TooLarge(f"{host}: body over the {cap}-byte cap (counted after decompression)",
                                         status=resp.status), retry=False)
                buf += chunk
        except aiohttp.ClientPayloadError as exc:
            reason = str(exc).lower()
            if "content-encoding" in reason or "decompress" in reason:
                raise _Fail(SourceError(f"{host}: body could not be decompressed ({named})",
                                        status=resp.status), retry=False) from None
            raise _Fail(SourceError(f"{host}: body broken off before its end", status=resp.status),
                        retry=True) from None
        except aiohttp.SocketTimeoutError:
            raise _Fail(SourceError(f"{host}: body stalled for {read_timeout:g}s (read timeout)",
                                    status=resp.status), retry=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _Fail(SourceError(f"{host}: body not received ({type(exc).__name__})", status=resp.status),
                        retry=True) from None
        return bytes(buf)

    def _status_error(self, host: str, status: int, headers) -> tuple[SourceError, bool, bool]:
        wait = parse_retry_after(headers.get("Retry-After"))
        if not retryable_status(status):
            return SourceError(f"{host}: HTTP {status}", status=status, retry_after=wait), False, False
        unsafe = status in RETRYABLE_UNSAFE
        if wait is not None and wait > self.max_wait:
            return (RateLimited(f"{host}: HTTP {status}, asked to wait {wait:.0f}s", retry_after=wait, status=status),
                    True, unsafe)
        cls = RateLimited if status == 429 else SourceError
        return cls(f"{host}: HTTP {status}", retry_after=wait, status=status), True, unsafe


def retryable_status(status: int) -> bool:
    """408, 429 and 5xx other than those that will never change (501, 505, 506, 508, 510, 511)."""
    return status in (408, 429) or 500 <= status <= 599 and status not in PERMANENT_5XX


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, (url.host or "").lower(), url.port)


def next_hop(current: URL | str, location: str) -> tuple[URL | None, str | None]:
    """Where a redirect from `current` to `location` leads, or why it is refused: only to http or
    https, never from https down to http, never to a URL with user info."""
    current = URL(str(current)) if not isinstance(current, URL) else current
    if len(location) > 8192:
        return None, "Location too long"
    try:
        target = current.join(URL(location.strip()))
    except (ValueError, TypeError):
        return None, "Location is not a URL"
    if target.scheme not in ("http", "https") or not target.host:
        return None, "Location is not an http or https URL"
    if current.scheme == "https" and target.scheme == "http":
        return None, "from https down to http"
    if target.user is not None or target.password is not None:
        return None, "Location carries user info"
    return target.with_fragment(None), None


def _os_reason(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if code is None and isinstance(getattr(exc, "os_error", None), OSError):
        code = exc.os_error.errno  # type: ignore[attr-defined]
    if isinstance(code, int) and code in errno_mod.errorcode:
        return f"{os.strerror(code).lower()}, {errno_mod.errorcode[code]}"
    return type(exc).__name__


def _parser_reason(exc: aiohttp.ClientResponseError, max_header_size: int) -> str:
    # The text of the exception holds the URL and a slice of the offending header: it is only
    # looked at here, never passed on.
    text = str(getattr(exc, "message", "") or "").lower()
    if "got more than" in text or "line too long" in text or "too long" in text:
        return f"malformed answer: a header line is over {max_header_size} bytes"
    if "too many headers" in text:
        return "malformed answer: too many header fields"
    if "content-encoding" in text:
        return "answer uses a content-encoding that cannot be decoded"
    if "status line" in text or "invalid status" in text:
        return "malformed answer: not an HTTP status line"
    return "malformed answer: not valid HTTP"
