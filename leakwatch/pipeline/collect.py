"""The collect stage: poll each source, store its items and cursor in one transaction.

Each source is polled by one replica at a time (a session advisory lock on a dedicated
connection); a replica that does not hold a source's lock tries again every few seconds,
so when the holder dies another takes over. A poll that fails is counted on the source's
row (last error, consecutive failures) and backed off exponentially with jitter, or for
as long as the upstream asked (Retry-After, rate-limit reset). Items are stored with
their match jobs and the source's new cursor atomically; if Postgres is away, the items
are held in memory and storing is retried, so nothing fetched is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from leakwatch.aio import sleep_or_stop
from leakwatch.config import Config
from leakwatch.db import pipeline as store
from leakwatch.http import Http, RateLimited, SourceError, backoff
from leakwatch.log import event
from leakwatch.metrics import DB_ERRORS, FETCHED, POLLS, SOURCE_ERRORS, SOURCE_FAILING, SOURCE_LAST_SUCCESS
from leakwatch.models import Poll

log = logging.getLogger("leakwatch.collect")

LOCK_RETRY = 5.0  # seconds between attempts to take over a source another replica polls


class CollectRole:
    def __init__(self, cfg: Config, dsn: str, pool, sources: list, http: Http, stop: asyncio.Event):
        self.cfg = cfg
        self.dsn = dsn
        self.pool = pool
        self.sources = [s for s in sources if hasattr(s, "poll")]
        self.http = http
        self.stop = stop
        self.lock = store.SourceLock(dsn)  # one connection for all sources; its queries run one at a time

    async def run(self) -> None:
        if not self.sources:
            await self.stop.wait()
            return
        tasks = [asyncio.create_task(self._loop(src), name=f"source-{src.settings.name}") for src in self.sources]
        try:
            await self.stop.wait()
        finally:
            # Stop polling at once: a poll in flight is abandoned (its items were not stored,
            # so its cursor was not saved either; the next holder fetches them again).
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.lock.release_all()

    async def _holds(self, name: str) -> bool:
        try:
            return await self.lock.try_acquire(name)
        except store.TRANSIENT:
            DB_ERRORS.labels("collect").inc()
            return False

    async def _loop(self, src) -> None:
        """Poll one source until stopped. Nothing a source or its data does may end this loop."""
        name = src.settings.name
        failures = 0
        while not self.stop.is_set():
            try:
                failures = await self._iteration(src, failures)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. a value Postgres refuses: counted, backed off, retried
                failures += 1
                log.error("collect_failed", exc_info=True, extra={"fields": {"source": name}})
                SOURCE_ERRORS.labels(name, type(exc).__name__).inc()
                try:
                    async with self.pool.acquire() as conn:
                        await store.source_failed(conn, name, f"storing failed ({type(exc).__name__})", None)
                except Exception:
                    DB_ERRORS.labels("collect").inc()
                await sleep_or_stop(self.stop, max(src.settings.interval,
                                                   backoff(failures, src.settings.interval, 900.0)))

    async def _iteration(self, src, failures: int) -> int:
        """One round: take or keep the source's lock, poll, store. Returns the failure count."""
        name = src.settings.name
        if not await self._holds(name):
            await sleep_or_stop(self.stop, LOCK_RETRY)
            return failures
        try:
            async with self.pool.acquire() as conn:
                cursor, paused_until = await store.ensure_source(conn, name, src.kind)
        except store.TRANSIENT:
            DB_ERRORS.labels("collect").inc()
            await sleep_or_stop(self.stop, backoff(3, 0.5, 15))
            return failures
        if paused_until is not None:
            wait = (paused_until - datetime.now(timezone.utc)).total_seconds()
            if wait > 0:
                await sleep_or_stop(self.stop, min(wait, src.settings.interval * 10 + 60))
                return failures
        delay = await self._poll_once(src, cursor, failures)
        if delay is None:  # stored; poll again after the interval (or at once when more is waiting)
            return 0
        await sleep_or_stop(self.stop, delay)
        return failures + 1

    async def _poll_once(self, src, cursor, failures: int) -> float | None:
        """Poll and store; None when it worked (having slept its interval), else the delay before retrying."""
        s = src.settings
        name = s.name
        budget = max(s.timeout * 4, 60.0)  # the whole poll: listing plus item fetches
        started = time.monotonic()
        try:
            result: Poll = await asyncio.wait_for(src.poll(self.http, cursor), timeout=budget)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, RateLimited):
                outcome, message = "rate_limited", str(exc)
            elif isinstance(exc, SourceError):
                outcome, message = "error", str(exc)
            elif isinstance(exc, asyncio.TimeoutError):
                outcome, message = "error", f"poll took longer than {budget:.0f}s"
            else:  # a bug in a plugin: the type only (its message might quote what it read)
                outcome, message = "error", f"internal error in source ({type(exc).__name__})"
                log.error("source_bug", exc_info=True, extra={"fields": {"source": name}})
            wait = getattr(exc, "retry_after", None)
            delay = max(s.interval, backoff(failures + 1, s.interval, max(s.interval, 900.0)))
            if wait is not None:
                delay = max(delay, wait)
            POLLS.labels(name, outcome).inc()
            SOURCE_ERRORS.labels(name, type(exc).__name__).inc()
            try:
                async with self.pool.acquire() as conn:
                    n = await store.source_failed(conn, name, message, wait)
                SOURCE_FAILING.labels(name).set(n)
            except store.TRANSIENT:
                DB_ERRORS.labels("collect").inc()
            event(log, "source_failed", logging.WARNING, source=name, error=message, retry_in=round(delay, 1))
            return delay
        await self._store(src, result)
        POLLS.labels(name, "ok").inc()
        SOURCE_FAILING.labels(name).set(0)
        SOURCE_LAST_SUCCESS.labels(name).set(time.time())
        if result.wait:
            await sleep_or_stop(self.stop, result.wait)
        elif not result.more:
            await sleep_or_stop(self.stop, s.interval - (time.monotonic() - started))
        return None

    async def _store(self, src, result: Poll) -> None:
        """Store the items and cursor; while Postgres is away, hold them and retry."""
        name = src.settings.name
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    new = await store.store_poll(conn, name, result.items, result.cursor, result.wait)
                break
            except store.TRANSIENT as exc:  # Postgres away: hold the items and try again
                DB_ERRORS.labels("collect").inc()
                attempt += 1
                event(log, "store_retry", logging.WARNING, source=name, items=len(result.items),
                      error=type(exc).__name__)
                if self.stop.is_set():
                    return  # the cursor was not saved: the next poll fetches them again
                await sleep_or_stop(self.stop, backoff(attempt, 0.5, 15))
        FETCHED.labels(name).inc(len(new))
        if new:
            event(log, "documents_stored", source=name, new=len(new), fetched=len(result.items))
        hook = getattr(src, "stored", None)
        if hook is not None and result.items:
            try:
                await hook(result.items)
            except Exception:
                log.error("source_stored_hook_failed", exc_info=True, extra={"fields": {"source": name}})
