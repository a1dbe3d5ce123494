"""`leakwatch run` and the single-role commands: collectors, match workers, notifier, web server.

Start-up order matters for the match role: the hashed roster is loaded and the worker
processes are forked *before* the event loop starts, so they share the roster copy-on-write
and no thread exists at fork time. Then one event loop runs every enabled role until
SIGTERM or SIGINT: stop claiming, finish or release in-flight work, exit 0 within 25 s.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from leakwatch.config import Config
from leakwatch.errors import ConfigError
from leakwatch.log import event

log = logging.getLogger("leakwatch.daemon")

ROLES = ("collect", "match", "notify", "web")


class Daemon:
    def __init__(self, cfg: Config, dsn: str, roles: set[str], hasher=None):
        unknown = roles - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.cfg = cfg
        self.dsn = dsn
        self.roles = roles
        self.hasher = hasher
        self.executor: ProcessPoolExecutor | None = None
        self.processes = 0
        self.roster_version: int | None = None
        self.restart = False  # the roster changed or a worker died: the command re-executes itself
        self.failed = False  # a role ended with an error: the command exits 2
        self.web_port: int | None = None
        self.sources: list = []  # built (and their settings checked) once, in prepare()

    # ------------------------------------------------------------------ before the loop

    def prepare(self) -> None:
        """Validate what the roles need and fork the match workers (no event loop running)."""
        from leakwatch.plugins import load_sources

        if self.roles & {"collect", "web"}:  # configuration errors now, not in a background task
            self.sources = load_sources(self.cfg.sources)
        webhook = "web" in self.roles and (self.cfg.telegram or {}).get("updates") == "webhook"
        if "notify" in self.roles or webhook:
            from leakwatch import alerts

            alerts.validate(self.cfg)  # reads the token file: only where Telegram is talked to
        if "match" in self.roles:
            self._fork_matchers()

    def _fork_matchers(self) -> None:
        from leakwatch.cli import load_context
        from leakwatch.db import connect
        from leakwatch.db.pipeline import roster_version
        from leakwatch.pipeline import work
        from leakwatch.scan import Scanner, limits_from

        if self.hasher is None:
            raise ConfigError("LEAKWATCH_KEY_FILE: not set (the match role needs the roster key)")

        async def version():
            conn = await connect(self.dsn)
            try:
                return await roster_version(conn)
            finally:
                await conn.close()

        self.roster_version = asyncio.run(version())
        ctx = asyncio.run(load_context(self.cfg, self.hasher))
        work.install(Scanner(ctx), limits_from(self.cfg))
        # Default: the CPUs this process may run on (in a container, set match_workers to the pod's
        # CPU limit: the node's count is no guide).
        self.processes = self.cfg.pipeline.match_workers or len(os.sched_getaffinity(0)) or 1
        # The roster index stays shared copy-on-write only if the collector does not touch its
        # objects: freeze them out of the garbage collector's generations before forking.
        gc.collect()
        gc.freeze()
        self.executor = ProcessPoolExecutor(self.processes, mp_context=get_context("fork"),
                                            initializer=work.init_worker, initargs=(os.getpid(),))
        pids = set(self.executor.map(work.warm, range(self.processes * 4)))
        event(log, "match_workers_started", processes=self.processes, distinct_pids=len(pids))

    def close(self) -> None:
        if self.executor is not None:
            procs = list(getattr(self.executor, "_processes", {}).values())
            self.executor.shutdown(wait=False, cancel_futures=True)
            for p in procs:  # a match still running past the grace period: its job was released
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
            self.executor = None

    # ------------------------------------------------------------------ the loop

    async def serve(self, stop: asyncio.Event | None = None, *, sources: list | None = None,
                    install_signals: bool = True, on_ready=None) -> None:
        from leakwatch.db import check_schema
        from leakwatch.db import pipeline as store
        from leakwatch.http import Http
        from leakwatch.pipeline.collect import CollectRole
        from leakwatch.pipeline.match import MatchRole
        from leakwatch.web import bound_port, make_app, start_web

        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        sources = self.sources if sources is None else sources
        try:
            pool = await store.create_pool(self.dsn, min_size=1, max_size=4 + 2 * self.processes)
        except store.TRANSIENT as exc:
            raise ConfigError(f"DATABASE_URL: cannot connect to Postgres ({type(exc).__name__})") from None
        try:
            async with pool.acquire() as conn:
                await check_schema(conn)
        except BaseException:
            pool.terminate()
            raise
        tasks: dict[str, asyncio.Task] = {}
        runner = None
        http = None
        match_role = None
        try:
            if "web" in self.roles:
                from leakwatch import alerts

                extra = []
                if (self.cfg.telegram or {}).get("updates") == "webhook":
                    extra = alerts.webhook_routes(self.cfg, self.dsn)  # Telegram's updates, secret-checked
                push = [s for s in sources if not hasattr(s, "poll")]
                app = make_app(pool, push, extra)
                if extra:
                    app.on_cleanup.append(lambda app: extra.close())
                runner = await start_web(app, self.cfg.web.listen)
                self.web_port = bound_port(runner)
                event(log, "web_listening", listen=self.cfg.web.listen, port=self.web_port)
            if "collect" in self.roles:
                http = Http(per_host=self.cfg.pipeline.per_host)
                await http.start()
                tasks["collect"] = asyncio.create_task(
                    CollectRole(self.cfg, self.dsn, pool, sources, http, stop).run(), name="collect")
            if "match" in self.roles:
                # Two jobs in flight per worker process: while one is matched, the next is claimed
                # and the last recorded, so the process never waits on a database round trip.
                match_role = MatchRole(self.cfg, self.dsn, pool, self.executor, 2 * self.processes, stop,
                                       roster_version=self.roster_version)
                tasks["match"] = asyncio.create_task(match_role.run(), name="match")
            if "notify" in self.roles:
                from leakwatch import alerts

                tasks["notify"] = asyncio.create_task(alerts.run_notifier(self.cfg, self.dsn, stop), name="notify")
            event(log, "started", roles=",".join(sorted(self.roles)),
                  sources=len(sources), match_processes=self.processes)
            if on_ready is not None:
                on_ready(self)
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
            for name, t in tasks.items():
                if t.done() and not t.cancelled() and t.exception() is not None:
                    self.failed = True
                    log.error("role_failed", exc_info=t.exception(), extra={"fields": {"role": name}})
            stop.set()
            event(log, "stopping")
            # The roles give in-flight work shutdown_grace (20 s by default) and then hand it back;
            # with the web server and pool closing after, the process is gone within 25 s.
            done, pending = await asyncio.wait(tasks.values(), timeout=self.cfg.pipeline.shutdown_grace + 1)
            for t in pending:
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        finally:
            waiter_cancel = [t for t in tasks.values() if not t.done()]
            for t in waiter_cancel:
                t.cancel()
            if http is not None:
                await http.close()
            if runner is not None:
                await runner.cleanup()
            try:
                await asyncio.wait_for(pool.close(), timeout=2)
            except (asyncio.TimeoutError, *store.TRANSIENT):
                pool.terminate()
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        if match_role is not None and (match_role.roster_changed or match_role.broken):
            self.restart = True  # a new roster to load, or a worker process died: start afresh
        event(log, "stopped", restart=self.restart)

