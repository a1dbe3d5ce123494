"""A hostile HTTP server on loopback, for the tests of `leakwatch.http`.

It speaks raw HTTP/1.1 over asyncio streams (not aiohttp.web, which would refuse to lie), one
request per connection (`Connection: close`), and every answer is a route: a coroutine
`handler(req, writer)` that writes whatever bytes it likes. Factories below build the usual
villains: a server that hangs, trickles, streams 2 GB, sends a gzip bomb, lies in
Content-Length, sends a 1 MB header, loops redirects, answers 500 or 429.

Big bodies are generated lazily, chunk by chunk, as the socket drains: nothing here ever holds
more than one chunk (64 KiB; the gzip bomb's repeating unit is ~64 KiB of deflate that inflates
to 64 MiB). Every loop is bounded in bytes and in time (`MAX_SECONDS`) and stops by itself when
the client goes away, which it records (`Hostile.closed_early`, `Hostile.sent`).

    async with Hostile() as srv:
        srv.route("/big", stream_body(2 * GiB))
        await http.get(srv.url + "/big", cap=MiB)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Awaitable, Callable

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
MAX_SECONDS = 120.0  # no handler of this server runs longer than this, whatever the client does
ZERO_MB = bytes(MiB)
CHUNK = bytes(b"x" * (64 * KiB))


@dataclass
class Req:
    method: str
    target: str  # path and query, as sent
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Handler = Callable[[Req, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Hostile:
    """The server. `url` is its base URL once entered."""

    host: str = "127.0.0.1"
    url: str = ""
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: collections.Counter = field(default_factory=collections.Counter)
    requests: list[Req] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    sent: collections.Counter = field(default_factory=collections.Counter)  # body bytes written, per path
    closed_early: dict[str, asyncio.Event] = field(default_factory=dict)  # path -> client hung up mid-answer

    def route(self, path: str, handler: Handler) -> "Hostile":
        self.routes[path] = handler
        self.closed_early.setdefault(path, asyncio.Event())
        return self

    async def __aenter__(self) -> "Hostile":
        self._tasks: set[asyncio.Task] = set()
        self._server = await asyncio.start_server(self._connection, self.host, 0, limit=64 * KiB)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        req = None
        try:
            req = await asyncio.wait_for(_read_request(reader), 10)
            if req is None:
                return
            self.hits[req.path] += 1
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                handler = self.routes.get(req.path, not_found)
                writer.server = self  # type: ignore[attr-defined]  # handlers count bytes through it
                writer.req_path = req.path  # type: ignore[attr-defined]
                await asyncio.wait_for(handler(req, writer), MAX_SECONDS)
            finally:
                self.in_flight -= 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
            if req is not None:
                self.closed_early.setdefault(req.path, asyncio.Event()).set()
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


async def _read_request(reader: asyncio.StreamReader) -> Req | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("content-length", "0").isdigit() and int(headers.get("content-length", "0")) > 0:
        body = await reader.readexactly(min(int(headers["content-length"]), 1 * MiB))
    return Req(method, target, target.split("?", 1)[0], headers, body)


# -- writing -----------------------------------------------------------------------------


def head(status: int, headers: dict[str, str] | list[tuple[str, str]] = (), reason: str = "X") -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in items]
    if not any(k.lower() == "connection" for k, _ in items):
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def write(writer: asyncio.StreamWriter, data: bytes, *, body: bool = True) -> None:
    """Write and wait for the socket to drain: raises ConnectionError once the client is gone."""
    if writer.transport.is_closing():
        raise ConnectionResetError("client went away")
    writer.write(data)
    await writer.drain()
    if body:
        writer.server.sent[writer.req_path] += len(data)  # type: ignore[attr-defined]


def respond(status: int = 200, body: bytes | str | dict | list = b"", headers: dict[str, str] | None = None) -> Handler:
    """A plain answer with a true Content-Length."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    elif isinstance(body, str):
        body = body.encode()

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await write(w, head(status, {**(headers or {}), "Content-Length": str(len(body))}), body=False)
        await write(w, body)

    return handler


not_found = respond(404, b"not here")


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one repeats."""
    calls = 0

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        nonlocal calls
        h = handlers[min(calls, len(handlers) - 1)]
        calls += 1
        await h(req, w)

    return handler


def echo() -> Handler:
    """200 with the request's method, target and headers as JSON."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await respond(200, {"method": req.method, "target": req.target, "headers": req.headers})(req, w)

    return handler


def slow(seconds: float, then: Handler | None = None) -> Handler:
    """Wait, then answer (concurrency counting)."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(seconds)
        await (then or respond(200, {"ok": True}))(req, w)

    return handler


def hang() -> Handler:
    """Read the request, then say nothing until the client gives up (or MAX_SECONDS)."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(MAX_SECONDS)  # the connection task is cancelled when the server stops

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    return respond(status, b"", {"Location": location})


def stream_body(size: int, *, framing: str = "length", status: int = 200) -> Handler:
    """A `size`-byte body generated 64 KiB at a time as the socket drains; stops when the client
    hangs up (recorded) or after MAX_SECONDS. `framing`: "length" (a true Content-Length),
    "chunked", or "close" (no length: the body ends when the connection does)."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        hdrs = {"Content-Type": "text/plain"}
        if framing == "length":
            hdrs["Content-Length"] = str(size)
        elif framing == "chunked":
            hdrs["Transfer-Encoding"] = "chunked"
        await write(w, head(status, hdrs), body=False)
        frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
        left, start = size, time.monotonic()
        while left > 0 and time.monotonic() - start < MAX_SECONDS:
            n = min(left, len(CHUNK))
            piece = CHUNK if n == len(CHUNK) else CHUNK[:n]
            if framing == "chunked":
                piece = frame if n == len(CHUNK) else b"%x\r\n" % n + piece + b"\r\n"
            await write(w, piece)
            left -= n
        if framing == "chunked":
            await write(w, b"0\r\n\r\n")

    return handler


def lying_length(claimed: int, actual: int, *, then_close: bool = True) -> Handler:
    """Announce `claimed` bytes, send `actual` (lazily), then close."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await write(w, head(200, {"Content-Length": str(claimed), "Content-Type": "text/plain"}), body=False)
        left = actual
        while left > 0:
            n = min(left, len(CHUNK))
            await write(w, CHUNK[:n])
            left -= n
        if then_close:
            w.transport.close()

    return handler


def trickle(interval: float = 1.0, claimed: int = 1_000_000) -> Handler:
    """Headers at once, then one byte every `interval` seconds, forever (MAX_SECONDS)."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await write(w, head(200, {"Content-Length": str(claimed), "Content-Type": "text/plain"}), body=False)
        for _ in range(int(MAX_SECONDS / interval)):
            await write(w, b"x")
            await asyncio.sleep(interval)

    return handler


def huge_header(size: int = MiB, name: str = "X-Padding") -> Handler:
    """A header field of `size` bytes, written lazily, then a tiny body."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await write(w, f"HTTP/1.1 200 OK\r\nConnection: close\r\n{name}: ".encode(), body=False)
        left = size
        while left > 0:
            n = min(left, len(CHUNK))
            await write(w, CHUNK[:n])
            left -= n
        await write(w, b"\r\nContent-Length: 2\r\n\r\nok")

    return handler


def raw(data: bytes, *, then_close: bool = True) -> Handler:
    """Exactly these bytes, whatever they are."""

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await write(w, data, body=False)
        if then_close:
            w.transport.close()

    return handler


# -- decompression bombs -----------------------------------------------------------------

# After Z_FULL_FLUSH the compressor forgets its window, so every further MiB of zeros
# compresses to the same ~1 KiB: a bomb is a header, that block repeated, and a trailer.
_WBITS = {"gzip": 31, "deflate": 15, "raw-deflate": -15}


@functools.lru_cache(maxsize=None)
def _bomb_parts(kind: str) -> tuple[bytes, bytes]:
    """(start: header + first MiB, block: one more MiB of zeros), both byte-aligned."""
    c = zlib.compressobj(9, zlib.DEFLATED, _WBITS[kind])
    start = c.compress(ZERO_MB) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(ZERO_MB) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(ZERO_MB) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "zlib no longer repeats a flushed block"
    return start, block


def _bomb_end(kind: str, mib: int) -> bytes:
    """An empty final deflate block, then the container's check of `mib` MiB of zeros."""
    final = b"\x03\x00"
    if kind == "raw-deflate":
        return final
    if kind == "gzip":
        crc = 0
        for _ in range(mib):
            crc = zlib.crc32(ZERO_MB, crc)
        return final + struct.pack("<II", crc, (mib * MiB) & 0xFFFFFFFF)
    adler = 1
    for _ in range(mib):
        adler = zlib.adler32(ZERO_MB, adler)
    return final + struct.pack(">I", adler)


def bomb_stream(kind: str, mib: int):
    """Yield a `kind` stream of `mib` MiB of zeros, in pieces of ~64 KiB (64 MiB inflated each).
    The trailer (whose checksum costs time) is computed only if a client ever reads that far."""
    start, block = _bomb_parts(kind)
    group = block * 64
    yield start
    left = mib - 1
    while left >= 64:
        yield group
        left -= 64
    if left:
        yield block * left
    yield _bomb_end(kind, mib)


@functools.lru_cache(maxsize=4)
def bomb_bytes(kind: str, mib: int) -> bytes:
    """The whole bomb in memory (about mib KiB): for small precomputed bombs (1 GiB -> ~1 MiB)."""
    return b"".join(bomb_stream(kind, mib))


def bomb(kind: str = "gzip", mib: int = 10 * 1024, *, precomputed: bool = False,
         encoding: str | None = None) -> Handler:
    """A body of `mib` MiB of zeros, compressed (`gzip`, `deflate` or `raw-deflate`, both of the
    latter sent as `Content-Encoding: deflate`). Precomputed: the whole compressed body with a
    Content-Length, written at once. Otherwise: chunked, generated as the socket drains."""
    encoding = encoding or ("gzip" if kind == "gzip" else "deflate")

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        hdrs = {"Content-Type": "text/plain", "Content-Encoding": encoding}
        start = time.monotonic()
        if precomputed:
            data = bomb_bytes(kind, mib)
            await write(w, head(200, {**hdrs, "Content-Length": str(len(data))}), body=False)
            for i in range(0, len(data), len(CHUNK)):
                await write(w, data[i:i + len(CHUNK)])
            return
        await write(w, head(200, {**hdrs, "Transfer-Encoding": "chunked"}), body=False)
        for piece in bomb_stream(kind, mib):
            if time.monotonic() - start > MAX_SECONDS:
                return
            await write(w, b"%x\r\n" % len(piece) + piece + b"\r\n")
        await write(w, b"0\r\n\r\n")

    return handler


# -- places that do not answer -----------------------------------------------------------


def refused_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def blackhole():
    """A loopback URL whose SYNs go unanswered: a listening socket with a full backlog that
    never accepts, so a new connection hangs in connect (a connect timeout, on loopback only)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        listener.close()
