"""The web role: /healthz (process alive), /readyz (database and schema), /metrics, /push/{source}.

Liveness checks the process only, so a Postgres outage never gets the pod killed; readiness
checks that the database answers and its schema is the one this code needs.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leakwatch import __version__
from leakwatch.db import check_schema
from leakwatch.db import pipeline as store
from leakwatch.errors import SchemaError
from leakwatch.log import event
from leakwatch.metrics import PUSHED, REGISTRY

log = logging.getLogger("leakwatch.web")

POOL = web.AppKey("pool", object)
PUSH = web.AppKey("push", dict)
MAX_PUSH_BYTES = 64 * 2**20


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    try:
        async with asyncio.timeout(5):
            async with pool.acquire() as conn:
                await check_schema(conn)
    except SchemaError as exc:
        return web.json_response({"status": "not ready", "reason": str(exc)}, status=503)
    except (*store.TRANSIENT, asyncio.TimeoutError) as exc:
        return web.json_response({"status": "not ready", "reason": f"database: {type(exc).__name__}"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def push(request: web.Request) -> web.Response:
    """Items posted by other tools (JSON lines); stored with their jobs before the reply."""
    name = request.match_info["source"]
    src = request.app[PUSH].get(name)
    if src is None or not src.authorised(request.headers.get("Authorization")):
        # The same answer for an unknown name: the endpoint does not reveal which sources exist.
        if src is not None:
            PUSHED.labels(name, "unauthorised").inc()
        raise web.HTTPUnauthorized(text="missing or wrong bearer token\n",
                                   headers={"WWW-Authenticate": 'Bearer realm="leakwatch"'})
    limit = min(MAX_PUSH_BYTES, src.settings.max_bytes * 4)
    if request.content_length is not None and request.content_length > limit:
        PUSHED.labels(name, "too_large").inc()
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            PUSHED.labels(name, "too_large").inc()
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    try:
        items = src.parse(bytes(body))
    except ValueError as exc:
        PUSHED.labels(name, "invalid").inc()
        return web.json_response({"error": str(exc)}, status=400)
    pool = request.app[POOL]
    try:
        async with pool.acquire() as conn:
            await store.ensure_source(conn, name, src.kind)
            new = await store.store_poll(conn, name, items, None)
    except store.TRANSIENT as exc:
        PUSHED.labels(name, "unavailable").inc()
        return web.json_response({"error": f"database unavailable ({type(exc).__name__}); retry"}, status=503,
                                 headers={"Retry-After": "5"})
    PUSHED.labels(name, "ok").inc()
    event(log, "pushed", source=name, items=len(items), new=len(new))
    return web.json_response({"received": len(items), "new": len(new)}, status=202)


def make_app(pool, push_sources: list | None = None, extra_routes=()) -> web.Application:
    app = web.Application(client_max_size=MAX_PUSH_BYTES)
    app[POOL] = pool
    app[PUSH] = {s.settings.name: s for s in (push_sources or [])}
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics),
                    web.post("/push/{source}", push)])
    if extra_routes:
        app.add_routes(list(extra_routes))
    return app


async def start_web(app: web.Application, listen: str) -> web.AppRunner:
    host, _, port = listen.rpartition(":")
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]"), int(port))
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return server.sockets[0].getsockname()[1]
    raise RuntimeError("web server is not listening")
