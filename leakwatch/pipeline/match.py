"""The match stage: claim jobs with leases, match in worker processes, record the outcome.

Matching is CPU-bound and runs in a process pool forked before the event loop starts, so
the loop only claims, heartbeats and writes. Each of `slots` loops claims up to `batch`
jobs, matches them one by one and finishes each in its own transaction (finding, job done,
body dropped when there is nothing in it). A job whose lease expires (the worker died, was
killed, or lost Postgres) is claimed again by anyone; the lease guard in `finish_job`
makes sure only one outcome is ever recorded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

from leakwatch.aio import sleep_or_stop
from leakwatch.db import pipeline as store
from leakwatch.config import Config
from leakwatch.http import backoff
from leakwatch.log import event
from leakwatch.metrics import DB_ERRORS, LATENCY, MATCH_SECONDS, MATCHED, QUEUE_DEAD, QUEUE_DEPTH, QUEUE_OLDEST
from leakwatch.models import Severity
from leakwatch.pipeline import work

log = logging.getLogger("leakwatch.match")

JANITOR_EVERY = 3600.0  # seconds between retention passes


def worker_id(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class MatchRole:
    def __init__(self, cfg: Config, dsn: str, pool, executor: Executor, slots: int, stop: asyncio.Event,
                 roster_version: int | None = None):
        self.cfg = cfg
        self.dsn = dsn
        self.pool = pool
        self.executor = executor
        self.slots = slots
        self.stop = stop
        self.owner = worker_id("match")
        self.held: dict[int, store.Job] = {}  # job id -> job, for heartbeats and release
        self.wake = asyncio.Event()
        self.roster_version = roster_version
        self.roster_changed = False
        self.broken = False
        from leakwatch import alerts

        self.on_finding = alerts.finding_hook(cfg)  # alert + outbox row in the finding's transaction

    async def run(self) -> None:
        s = self.cfg.pipeline
        listener = None
        tasks = [asyncio.create_task(self._slot(i), name=f"match-slot-{i}") for i in range(self.slots)]
        tasks.append(asyncio.create_task(self._heartbeat(), name="match-heartbeat"))
        tasks.append(asyncio.create_task(self._watch(), name="match-watch"))
        try:
            while not self.stop.is_set():
                if listener is None or listener.is_closed():
                    try:
                        listener = await store.listen_jobs(self.dsn, self.wake.set)
                    except store.TRANSIENT:
                        listener = None
                await sleep_or_stop(self.stop, 5.0)
        finally:
            await self._shutdown(tasks, s.shutdown_grace)
            if listener is not None and not listener.is_closed():
                listener.terminate()

    async def _shutdown(self, tasks, grace: float) -> None:
        """Stop claiming; give in-flight matches `grace` seconds, then hand back what is left."""
        slots = tasks[: self.slots]
        # Leave time within the daemon's budget to hand back what is left (release: 3 s at most).
        done, pending = await asyncio.wait(slots, timeout=max(1.0, grace - 4))
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for t in tasks[self.slots:]:
            t.cancel()
        await asyncio.gather(*tasks[self.slots:], return_exceptions=True)
        if self.held:
            ids = list(self.held)
            try:
                async with self.pool.acquire(timeout=3) as conn:
                    await store.release_jobs(conn, self.owner, ids)
                event(log, "jobs_released", count=len(ids))
            except (*store.TRANSIENT, asyncio.TimeoutError):
                event(log, "jobs_release_failed", logging.WARNING, count=len(ids),
                      note="their leases expire and another worker takes them")
            self.held.clear()

    async def _slot(self, n: int) -> None:
        s = self.cfg.pipeline
        failures = 0
        while not self.stop.is_set() and not self.broken:
            try:
                async with self.pool.acquire() as conn:
                    jobs = await store.claim_jobs(conn, self.owner, s.batch, s.lease_seconds)
                failures = 0
            except Exception as exc:  # Postgres away (or a bug): back off and claim again
                DB_ERRORS.labels("match").inc()
                failures += 1
                if isinstance(exc, store.TRANSIENT):
                    event(log, "db_unavailable", logging.WARNING, role="match", error=type(exc).__name__)
                else:
                    log.error("claim_failed", exc_info=True)
                await sleep_or_stop(self.stop, backoff(failures, 0.5, 15))
                continue
            if not jobs:
                self.wake.clear()
                await sleep_or_stop(self.stop, s.idle_poll, self.wake)
                continue
            for job in jobs:
                self.held[job.id] = job
            for job in jobs:
                if self.stop.is_set():
                    continue  # not started: still held, released at shutdown
                await self._one(job)

    async def _one(self, job: store.Job) -> None:
        s = self.cfg.pipeline
        try:
            if job.attempts > s.max_attempts:
                # Claimed again after its lease ran out that often: it kills or hangs workers.
                await self._fail(job, "gave up: the worker died or hung on every attempt", final=True)
                return
            async with self.pool.acquire() as conn:
                earlier = await store.earlier_result(conn, job)
            if earlier is not None:
                await self._finish(job, None, severity=earlier["severity"], dup_job=earlier["job_id"],
                                   dup_finding=earlier["finding_id"])
                MATCHED.labels(job.source, "duplicate").inc()
                return
            if job.body is None:
                await self._finish(job, None, severity=0)
                MATCHED.labels(job.source, "none").inc()
                return
            loop = asyncio.get_running_loop()
            try:
                result, seconds = await loop.run_in_executor(self.executor, work.match_document, job.body, job.name)
            except BrokenProcessPool:
                self.broken = True  # a worker process died (out of memory, killed): the daemon restarts
                await self._fail(job, "worker process died while matching")
                self.stop.set()
                return
            except Exception as exc:  # a bug on one document must not stop the queue: retried, then dead
                event(log, "match_failed", logging.ERROR, job=job.id, error=type(exc).__name__)
                await self._fail(job, f"matching failed: {type(exc).__name__}")
                return
            MATCH_SECONDS.observe(seconds)
            sev = result["severity"]
            await self._finish(job, result if sev >= Severity.LOW else None, severity=sev,
                               rejections=result["rejections"])
            MATCHED.labels(job.source, str(Severity(sev))).inc()
            if job.fetched_at is not None:
                LATENCY.observe(max(0.0, time.time() - job.fetched_at.timestamp()))
            if sev >= Severity.LOW:
                event(log, "finding", job=job.id, document=job.document_id, source=job.source,
                      severity=str(Severity(sev)), staff=len(result["staff"]), score=result["score"])
        except store.LeaseLost:
            event(log, "lease_lost", logging.WARNING, job=job.id)
        except store.TRANSIENT as exc:
            # Postgres went away mid-job: the lease runs out and the job is matched again.
            DB_ERRORS.labels("match").inc()
            event(log, "db_unavailable", logging.WARNING, role="match", job=job.id, error=type(exc).__name__)
        except Exception as exc:  # recording the outcome failed (a bug, a constraint): retried, then dead
            log.error("job_record_failed", exc_info=True, extra={"fields": {"job": job.id}})
            try:
                await self._fail(job, f"recording the outcome failed: {type(exc).__name__}")
            except Exception:
                pass  # the lease runs out and the job is claimed again
        except asyncio.CancelledError:
            raise  # shutdown cut this match short: the job stays held and is handed back
        self.held.pop(job.id, None)

    async def _finish(self, job, result, *, severity, dup_job=None, dup_finding=None, rejections=()) -> None:
        for attempt in range(3):
            try:
                async with self.pool.acquire() as conn:
                    await store.finish_job(conn, job, self.owner, result, severity=severity,
                                           duplicate_of_job=dup_job, duplicate_of_finding=dup_finding,
                                           on_finding=self.on_finding, rejections=list(rejections),
                                           roster_version=self.roster_version)
                return
            except store.TRANSIENT:
                if attempt == 2:
                    raise
                DB_ERRORS.labels("match").inc()
                await asyncio.sleep(backoff(attempt + 1, 0.5, 5))

    async def _fail(self, job, error: str, final: bool = False) -> None:
        s = self.cfg.pipeline
        async with self.pool.acquire() as conn:
            state = await store.fail_job(conn, job, self.owner, error, max_attempts=0 if final else s.max_attempts,
                                         delay=s.retry_delay * (2 ** max(0, job.attempts - 1)))
        MATCHED.labels(job.source, "dead" if state == "dead" else "failed").inc()
        event(log, "job_failed", logging.WARNING, job=job.id, state=state, attempts=job.attempts, error=error)

    async def _heartbeat(self) -> None:
        s = self.cfg.pipeline
        while True:
            await asyncio.sleep(max(0.2, s.lease_seconds / 3))
            if not self.held:
                continue
            try:
                async with self.pool.acquire() as conn:
                    await store.extend_leases(conn, self.owner, list(self.held), s.lease_seconds)
            except Exception as exc:  # too many connections, a failover, a bug: next beat tries again
                DB_ERRORS.labels("match").inc()
                if not isinstance(exc, store.TRANSIENT):
                    log.error("heartbeat_failed", exc_info=True)

    async def _watch(self) -> None:
        """Queue gauges every few seconds; retention hourly; a re-imported roster stops the role for a reload."""
        next_janitor = 0.0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    stats = await store.queue_stats(conn)
                    version = await store.roster_version(conn)
                    if time.monotonic() >= next_janitor:
                        dropped = await store.expire_bodies(conn, self.cfg.pipeline.retention_days,
                                                            every=JANITOR_EVERY * 0.9)
                        next_janitor = time.monotonic() + JANITOR_EVERY
                        if dropped:
                            event(log, "evidence_expired", documents=dropped,
                                  retention_days=self.cfg.pipeline.retention_days)
                QUEUE_DEPTH.set(stats["depth"])
                QUEUE_OLDEST.set(stats["oldest"])
                QUEUE_DEAD.set(stats["dead"])
                if self.roster_version is not None and version != self.roster_version:
                    event(log, "roster_changed", old=self.roster_version, new=version,
                          action="restarting the match workers with the new roster")
                    self.roster_changed = True
                    self.stop.set()
                    return
            except Exception as exc:  # gauges, retention and the roster check run again in 5 s
                DB_ERRORS.labels("match").inc()
                if not isinstance(exc, store.TRANSIENT):
                    log.error("watch_failed", exc_info=True)
            await asyncio.sleep(5.0)
