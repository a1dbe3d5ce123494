"""`leakwatch run` under stress: Postgres cut off or restarted mid-work, hostile sources beside a
good one, the push endpoint, and no roster plaintext anywhere the daemon writes.

Every test runs the daemon as users do (a subprocess with a TOML file) against fake upstreams
on loopback that run in the test's event loop, and real Postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from daemon import Daemon, enrol, leak_csv, metric, source_toml, wait_until
from fakes import serve
from fakes.hostile import GiB, Hostile, bomb, hang, respond, stream_body
from fakes.pastebin import PastebinState, pastebin_app
from synthetic import make_rows, write_roster_csv

pytestmark = pytest.mark.slow

CAP = 4 * 2**20  # max_bytes of the hostile sources
CUT = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
# Peak RSS (VmHWM) of the daemon's main process. Measured on a 2-core test box with a
# 400-person roster: about 85 MiB with only a good source, about 110 MiB with every hostile
# source below as well. Reading one of their 2 GB answers whole would need 2 GiB.
RSS_BOUND_KIB = 512 * 1024


def benign(key: str, lines: int = 300) -> str:
    return "".join(f"2026-11-26T10:{i % 60:02d}:00Z INFO {key} request served path=/api/items/{i} "
                   f"status=200 ms={i % 97}\n" for i in range(lines))


class Feed:
    """Pastes added to a fake Pastebin with strictly increasing dates: distinct staff lists
    (each one a finding) and distinct server logs (none)."""

    def __init__(self, state: PastebinState, rows, prefix: str):
        self.state, self.rows, self.prefix = state, rows, prefix
        self.date = int(time.time())
        self.leaks: list[str] = []
        self.benign: list[str] = []

    def add(self, leak: bool, repeat: int = 3) -> str:
        self.date += 1
        n = len(self.leaks) + len(self.benign)
        key = f"{self.prefix}{'L' if leak else 'B'}{n:05d}"
        if leak:
            # 20 staff from a different place each time: every leak is content of its own.
            text = leak_csv(self.rows, 20, offset=(len(self.leaks) * 7) % (len(self.rows) - 20)) * repeat
            self.leaks.append(key)
        else:
            text = benign(key)
            self.benign.append(key)
        self.state.add(key, self.date, text)
        return key

    @property
    def keys(self) -> list[str]:
        return self.leaks + self.benign

    async def run(self, stop: asyncio.Event, period: float = 0.25) -> None:
        i = 0
        while not stop.is_set():
            self.add(leak=i % 3 == 0)
            i += 1
            try:
                await asyncio.wait_for(stop.wait(), period)
            except asyncio.TimeoutError:
                pass


async def finding_count(conn, external_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM findings f JOIN documents d ON d.id = f.document_id "
                               "WHERE d.external_id = $1", external_id)


async def readyz(d: Daemon) -> int:
    try:
        return (await d.get("/readyz"))[0]
    except aiohttp.ClientError:
        return 0


async def assert_nothing_lost_nothing_twice(conn, feed: Feed) -> None:
    """Every posted paste stored once, every document's job done, one finding per staff list."""
    stored = [r["external_id"] for r in await conn.fetch("SELECT external_id FROM documents ORDER BY id")]
    assert sorted(stored) == sorted(feed.keys), \
        f"documents lost or doubled: missing {sorted(set(feed.keys) - set(stored))[:10]}"
    orphans = await conn.fetchval("SELECT count(*) FROM documents d WHERE NOT EXISTS "
                                  "(SELECT 1 FROM match_jobs j WHERE j.document_id = d.id)")
    assert orphans == 0, "a stored document has no match job"
    states = dict(await conn.fetch("SELECT state, count(*) FROM match_jobs GROUP BY state"))
    assert states == {"done": len(feed.keys)}, f"every job ends done: {states}"
    found = [r["external_id"] for r in await conn.fetch(
        "SELECT d.external_id FROM findings f JOIN documents d ON d.id = f.document_id ORDER BY f.id")]
    assert sorted(found) == sorted(feed.leaks), "exactly one finding per leak, none for the logs, none twice"


def started_events(d: Daemon) -> int:
    return sum(1 for e in d.events() if e.get("event") == "started")


def assert_clean_log(d: Daemon) -> None:
    """Every line is a JSON object, and losing the database is never logged as a bug of the pipeline."""
    lines = d.lines()
    loose = [line for line in lines if not line.startswith("{")]
    assert not loose, "lines that are not JSON objects:\n" + "\n".join(loose[:10])
    assert len(d.events()) == len(lines)
    bugs = [e for e in d.events() if e.get("level") == "error"
            and e.get("logger", "").startswith(("leakwatch.match", "leakwatch.collect", "leakwatch.daemon"))]
    assert not bugs, f"errors logged: {bugs[:5]}"


# ---------------------------------------------------------------------------------------------
# 1. Postgres connections cut while work is in flight


async def test_connections_cut_mid_work_the_daemon_recovers_and_loses_nothing(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path)
    state = PastebinState()
    feed = Feed(state, rows, "cut")
    stop_feed = asyncio.Event()
    async with serve(pastebin_app(state)) as base:
        d = Daemon(lw.env, tmp_path, source_toml("paste", base, limit=250), lease=3).start()
        conn = await asyncpg.connect(db_dsn)
        feeder = None
        try:
            await d.wait_ready()
            pid = d.proc.pid
            feeder = asyncio.create_task(feed.run(stop_feed))
            await wait_until(lambda: conn.fetchval("SELECT count(*) >= 3 FROM match_jobs WHERE state = 'done'"),
                             60, what="documents flowing")
            for _ in range(3):
                await wait_until(lambda: conn.fetchval("SELECT count(*) > 0 FROM match_jobs WHERE state = 'running'"),
                                 30, interval=0.02, what="a job in flight")
                cut = await conn.fetchval(CUT)
                assert cut > 0, "no backend of the daemon was cut: the test proves nothing"
                await asyncio.sleep(1.0)
            await asyncio.sleep(1.0)
            stop_feed.set()
            await feeder

            last = feed.add(leak=True)
            await wait_until(lambda: finding_count(conn, last), 60, what="the finding of a leak posted after the cuts")
            await wait_until(lambda: conn.fetchval("SELECT count(*) = 0 FROM match_jobs WHERE state <> 'done'"),
                             60, what="every job done")
            assert await readyz(d) == 200
            assert d.proc.poll() is None and d.proc.pid == pid and started_events(d) == 1, \
                "the daemon recovered in place: no exit, no re-exec"
            await assert_nothing_lost_nothing_twice(conn, feed)
            assert len(feed.leaks) >= 4 and len(feed.benign) >= 4

            code, took = await d.stop()
            assert code == 0 and took < 25
            assert_clean_log(d)
        finally:
            stop_feed.set()
            if feeder is not None:
                await asyncio.gather(feeder, return_exceptions=True)
            await conn.close()
            if d.proc.poll() is None:
                d.kill()


# ---------------------------------------------------------------------------------------------
# 2. The Postgres server stopped and started again while work is in flight


@pytest.fixture
def own_server():
    """A Postgres server of this test's own (pgserver's binaries), to stop and start at will."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    folder = Path(tempfile.mkdtemp(prefix="lw-pg-"))
    server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
    try:
        yield server
    finally:
        # pgserver stops only the process it started itself; after a restart that is another one.
        with contextlib.suppress(subprocess.CalledProcessError):
            stop_server(server)
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def _pg_ctl(server, *args: str) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", *args], pgdata=server.pgdata, user=server.system_user, timeout=60)


def stop_server(server) -> None:
    _pg_ctl(server, "-m", "fast", "stop")


def start_server(server, socket_dir: Path) -> None:
    # The options pgserver starts it with: no TCP listener, the socket in its own folder.
    _pg_ctl(server, "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log), "start")


async def test_postgres_restarted_mid_work_the_daemon_recovers_and_loses_nothing(lw, tmp_path, own_server):
    server = own_server
    server.psql('CREATE DATABASE "lw";')
    dsn = server.get_uri("lw")
    socket_dir = server.get_postmaster_info().socket_dir
    assert socket_dir is not None
    env = {"DATABASE_URL": dsn}
    res = lw("db", "migrate", env=env)
    assert res.code == 0, res.err
    rows = make_rows(400, seed=31)
    res = lw("roster", "import", str(write_roster_csv(tmp_path / "roster.csv", rows)), env=env)
    assert res.code == 0, res.err

    state = PastebinState()
    feed = Feed(state, rows, "rst")
    stop_feed = asyncio.Event()
    async with serve(pastebin_app(state)) as base:
        d = Daemon({**lw.env, **env}, tmp_path, source_toml("paste", base, limit=250), lease=3).start()
        conn = None
        feeder = None
        try:
            await d.wait_ready()
            pid = d.proc.pid
            conn = await asyncpg.connect(dsn)
            first = feed.add(leak=True)
            await wait_until(lambda: finding_count(conn, first), 60, what="the first finding")

            feeder = asyncio.create_task(feed.run(stop_feed, period=0.3))
            await asyncio.sleep(1.0)
            await wait_until(lambda: conn.fetchval("SELECT count(*) > 0 FROM match_jobs WHERE state <> 'done'"),
                             30, interval=0.02, what="documents on their way through the pipeline")
            await conn.close()
            conn = None
            await asyncio.to_thread(stop_server, server)
            before = set(feed.keys)
            await wait_until(lambda: _not_ready(d), 30, what="/readyz to report the outage")
            await asyncio.sleep(4)  # pastes keep coming while the database is away
            outage = set(feed.keys) - before
            assert len(outage) >= 5 and outage & set(feed.leaks), "pastes were posted while the server was down"
            assert d.proc.poll() is None, "the daemon survives a Postgres outage"
            await asyncio.to_thread(start_server, server, socket_dir)
            await asyncio.sleep(1.0)
            stop_feed.set()
            await feeder

            conn = await asyncpg.connect(dsn)
            last = feed.add(leak=True)
            await wait_until(lambda: finding_count(conn, last), 90, what="the finding of a leak posted after the restart")
            await wait_until(lambda: conn.fetchval("SELECT count(*) = 0 FROM match_jobs WHERE state <> 'done'"),
                             60, what="every job done")
            await wait_until(lambda: _ready(d), 30, what="/readyz 200 again")
            assert d.proc.poll() is None and d.proc.pid == pid and started_events(d) == 1, \
                "the daemon recovered in place: no exit, no re-exec"
            await assert_nothing_lost_nothing_twice(conn, feed)
            for key in outage & set(feed.leaks):
                assert await finding_count(conn, key) == 1, f"{key}, posted during the outage, was matched"
            code, took = await d.stop()
            assert code == 0 and took < 25
            assert_clean_log(d)
        finally:
            stop_feed.set()
            if feeder is not None:
                await asyncio.gather(feeder, return_exceptions=True)
            if conn is not None:
                await conn.close()
            if d.proc.poll() is None:
                d.kill()


async def _ready(d: Daemon) -> bool:
    return await readyz(d) == 200


async def _not_ready(d: Daemon) -> bool:
    return await readyz(d) == 503


# ---------------------------------------------------------------------------------------------
# 3. Hostile sources beside a good one


def listing_of(base: str, key: str, size: int) -> list[dict]:
    """A well-formed Pastebin listing of one paste that declares `size` bytes."""
    return [{"scrape_url": f"{base}/api_scrape_item.php?i={key}", "full_url": f"https://pastebin.com/{key}",
             "date": str(int(time.time())), "key": key, "size": str(size), "expire": "0", "title": "",
             "syntax": "text", "user": "", "hits": "1"}]


HOSTILE = {
    # name: (listing handler, what its last_error must say)
    "hangs": (hang(), r"timed out|read timeout|no answer"),
    "fails": (respond(500, "Internal Server Error"), r"HTTP 500"),
    "limits": (respond(429, "slow down", {"Retry-After": "120"}), r"HTTP 429, asked to wait 120s"),
    "garbage": (respond(200, b'[{"key": "abc", "date": 17\x00\xff not json', {"Content-Type": "application/json"}),
                r"answer is not JSON"),
    "huge": (stream_body(2 * GiB, framing="chunked"), rf"body over the {CAP}-byte cap"),
    "bomb": (bomb("gzip", 1024), rf"body over the {CAP}-byte cap \(counted after decompression\)"),
}


async def test_hostile_sources_are_counted_and_contained_and_the_good_one_is_unaffected(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path)
    state = PastebinState()
    async with contextlib.AsyncExitStack() as stack:
        good_base = await stack.enter_async_context(serve(pastebin_app(state)))
        servers = {name: (await stack.enter_async_context(Hostile())).route("/api_scraping.php", handler)
                   for name, (handler, _) in HOSTILE.items()}
        stuck = await stack.enter_async_context(Hostile())  # hangs far longer than SIGTERM's grace
        liar = await stack.enter_async_context(Hostile())  # a fine listing whose one paste is 2 GB
        liar.route("/api_scraping.php", respond(200, listing_of(liar.url, "liar0001", 1800)))
        liar.route("/api_scrape_item.php", stream_body(2 * GiB, framing="chunked"))
        stuck.route("/api_scraping.php", hang())
        hostile = dict(timeout=2, max_bytes=CAP)
        config = source_toml("good", good_base) + "".join(
            source_toml(name, srv.url, interval=0.5, **hostile) for name, srv in servers.items())
        config += source_toml("liar", liar.url, interval=0.5, **hostile)
        config += source_toml("stuck", stuck.url, interval=0.5, timeout=300, max_bytes=CAP)
        # One failure is enough for `leakwatch sources` to call a source failing.
        failing_env = {"LEAKWATCH_PIPELINE_SOURCE_FAILURES_ALERT": "1"}
        d = Daemon(lw.env, tmp_path, config, extra_env=failing_env).start()
        conn = await asyncpg.connect(db_dsn)
        try:
            await d.wait_ready()
            # Every villain has been asked at least once, and the 2 GB answers were cut off.
            for name in ("huge", "bomb"):
                await wait_until(lambda: _closed(servers[name]), 30, what=f"{name} cut off by the client")
            await wait_until(lambda: _asked(liar, "/api_scrape_item.php"), 30, what="the 2 GB paste fetched")
            await wait_until(lambda: _closed(liar, "/api_scrape_item.php"), 30, what="the 2 GB paste cut off")
            leak_at = time.monotonic()
            state.add("good0001", int(time.time()), leak_csv(rows, 20))
            await wait_until(lambda: finding_count(conn, "good0001"), 30, what="the good source's finding")
            good_latency = time.monotonic() - leak_at

            failing = [n for n in HOSTILE]
            await wait_until(lambda: conn.fetchval(
                "SELECT count(*) = $2 FROM sources WHERE name = ANY($1) AND consecutive_failures >= 1",
                failing, len(failing)), 60, what="every hostile source failed at least once")
            src = {r["name"]: r for r in await conn.fetch("SELECT * FROM sources")}
            for name, (_, says) in HOSTILE.items():
                row = src[name]
                assert row["last_error"] and re.search(says, row["last_error"]), (name, row["last_error"])
                assert row["consecutive_failures"] >= 1 and row["errors"] >= 1, name
                assert row["last_success_at"] is None, name
            assert src["limits"]["paused_until"] is not None
            assert src["limits"]["paused_until"] > datetime.now(timezone.utc) + timedelta(seconds=60), \
                "the source waits as long as the upstream asked"
            assert servers["limits"].hits["/api_scraping.php"] == 1, "a paused source is not polled"
            assert src["good"]["consecutive_failures"] == 0 and src["good"]["last_error"] is None
            # The 2 GB paste is skipped (documented: never truncated into a document); the source
            # itself is fine and does not fetch it again and again.
            assert src["liar"]["consecutive_failures"] == 0 and src["liar"]["last_success_at"] is not None
            assert liar.hits["/api_scrape_item.php"] == 1
            assert any(e.get("event") == "paste skipped: body over max_bytes" and e.get("key") == "liar0001"
                       for e in d.events())
            assert await conn.fetchval("SELECT count(*) FROM documents WHERE source <> 'good'") == 0, \
                "nothing a hostile source sent became a document"

            # The 2 GB bodies were read up to the cap, not to their end.
            for srv, path in ((servers["huge"], "/api_scraping.php"), (liar, "/api_scrape_item.php")):
                per_request = srv.sent[path] / srv.hits[path]
                assert per_request < 64 * 2**20, f"{per_request / 2**20:.0f} MiB sent per request"

            _, text = await d.get("/metrics")
            for name in HOSTILE:
                assert metric(text, "leakwatch_source_errors_total", source=name) >= 1, name
            assert metric(text, "leakwatch_source_errors_total", error="RateLimited") >= 1
            assert metric(text, "leakwatch_source_errors_total", source="good") == 0
            assert metric(text, "leakwatch_source_errors_total", source="liar") == 0
            assert metric(text, "leakwatch_documents_fetched_total", source="good") == 1

            health = lw("sources", "--config", str(d.config), "--format", "json", env=failing_env)
            assert health.code == 1, "a failing source makes `leakwatch sources` exit 1"
            status = {s["name"]: s for s in json.loads(health.out)}
            assert status["good"]["status"] == "ok" and status["liar"]["status"] == "ok"
            for name in HOSTILE:
                assert status[name]["status"] in ("failing", "degraded"), status[name]
                assert status[name]["last_error"] == src[name]["last_error"]

            rss = d.rss_peak_kib()
            print(f"\ndaemon peak RSS with hostile sources: {rss / 1024:.0f} MiB; good leak found in "
                  f"{good_latency:.1f}s")
            assert 0 < rss < RSS_BOUND_KIB, f"peak RSS {rss / 1024:.0f} MiB"

            # SIGTERM while a request that would hang for minutes is in flight.
            await wait_until(lambda: _in_flight(stuck), 30, what="a hanging request in flight")
            code, took = await d.stop()
            print(f"SIGTERM with a hanging request in flight: exit {code} after {took:.1f}s")
            assert code == 0 and took < 25, (code, took)
        finally:
            await conn.close()
            if d.proc.poll() is None:
                d.kill()


async def _closed(srv: Hostile, path: str = "/api_scraping.php") -> bool:
    return srv.closed_early.get(path) is not None and srv.closed_early[path].is_set()


async def _asked(srv: Hostile, path: str) -> bool:
    return srv.hits[path] > 0


async def _in_flight(srv: Hostile) -> bool:
    return srv.in_flight > 0


# ---------------------------------------------------------------------------------------------
# 4. The push endpoint, through the daemon

PUSH_TOKEN = "push-token-0123456789abcdef"


def push_toml(name: str, token_file: Path) -> str:
    return f'[[sources]]\nkind = "push"\nname = "{name}"\ntoken_file = "{token_file}"\n'


async def post(d: Daemon, name: str, body: bytes, token: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-ndjson"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{d.url}/push/{name}", data=body, headers=headers) as r:
            return r.status, await r.text()


def jsonl(*objects: dict) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


async def test_push_endpoint_stores_good_items_and_refuses_bad_ones_storing_nothing(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path)
    token_file = tmp_path / "push-token"
    token_file.write_text(PUSH_TOKEN + "\n")
    d = Daemon(lw.env, tmp_path, push_toml("drop", token_file)).start()
    conn = await asyncpg.connect(db_dsn)
    try:
        await d.wait_ready()
        refused = jsonl({"id": "refused-1", "content": leak_csv(rows, 20, offset=40)})
        status, text = await post(d, "drop", refused, "wrong-token-0123456789abcdef")
        assert status == 401, text
        status, text = await post(d, "drop", refused, None)
        assert status == 401, text
        broken = jsonl({"id": "refused-2", "content": leak_csv(rows, 20, offset=60)}) + b'{"id": "refused-3", "conte\n'
        status, text = await post(d, "drop", broken, PUSH_TOKEN)
        assert status == 400 and "line 2" in json.loads(text)["error"], text
        status, text = await post(d, "drop", jsonl({"id": "refused-4"}), PUSH_TOKEN)
        assert status == 400 and json.loads(text)["error"] == "line 1: content: required (or content_b64)", text
        status, text = await post(d, "nosuch", refused, PUSH_TOKEN)
        assert status == 401, "an unknown name is answered like a wrong token: which sources exist stays hidden"

        good = jsonl({"id": "pushed-1", "content": leak_csv(rows, 20)},
                     {"id": "pushed-2", "content": benign("pushed-2"), "url": "https://example.net/x"})
        status, text = await post(d, "drop", good, PUSH_TOKEN)
        assert status == 202 and json.loads(text) == {"received": 2, "new": 2}, text
        await wait_until(lambda: finding_count(conn, "pushed-1"), 30, what="the pushed leak's finding")
        await wait_until(lambda: conn.fetchval("SELECT count(*) = 2 FROM match_jobs WHERE state = 'done'"),
                         30, what="both pushed items matched")
        status, text = await post(d, "drop", good, PUSH_TOKEN)
        assert status == 202 and json.loads(text) == {"received": 2, "new": 0}, "a re-post stores nothing new"

        docs = await conn.fetch("SELECT source, external_id FROM documents ORDER BY external_id")
        assert [(r["source"], r["external_id"]) for r in docs] == [("drop", "pushed-1"), ("drop", "pushed-2")], \
            "nothing of the refused requests was stored"
        assert await conn.fetchval("SELECT count(*) FROM findings") == 1
        _, metrics_text = await d.get("/metrics")
        assert metric(metrics_text, "leakwatch_push_requests_total", source="drop", outcome="unauthorised") == 2
        assert metric(metrics_text, "leakwatch_push_requests_total", source="drop", outcome="invalid") == 2
        assert metric(metrics_text, "leakwatch_push_requests_total", source="drop", outcome="ok") == 2
        assert PUSH_TOKEN not in "\n".join(d.lines())
        code, took = await d.stop()
        assert code == 0 and took < 25
    finally:
        await conn.close()
        if d.proc.poll() is None:
            d.kill()


# ---------------------------------------------------------------------------------------------
# 5. No roster plaintext in what the daemon writes

OPAQUE = re.compile(r"s-[a-z2-7]{16}|\b[0-9a-f]{12,}")  # staff refs and hex digests: random letters


async def dump_tables(conn) -> tuple[list[str], list[object]]:
    """Every value of every table in the public schema, except the evidence kept on purpose
    (`documents.body`, zlib-compressed text of documents with findings)."""
    tables = [r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    values: list[object] = []
    for t in tables:
        cols = [r["attname"] for r in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
            f'"{t}"')]
        if t == "documents":
            cols = [c for c in cols if c != "body"]
        listed = ", ".join(f'"{c}"' for c in cols)
        for row in await conn.fetch(f'SELECT {listed} FROM "{t}"'):
            values.extend(_flat(row.values()))
    return tables, values


def _flat(items):
    for v in items:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        elif isinstance(v, dict):
            yield json.dumps(v, default=str)
        else:
            yield v


def roster_leaks(texts: list[str], blobs: list[bytes], ints: set[int], rows) -> list[str]:
    """What of the roster appears in any of these: full names, surnames of 6+ letters, pay and
    warrant numbers, e-mail addresses."""
    problems = []
    texts = [OPAQUE.sub(" ", t.lower()) for t in texts]
    pairs = set()
    for r in rows:
        fn, sn = re.escape(r.forenames.lower()), re.escape(r.surname.lower())
        pairs.add(rf"{fn}[\s.,_-]+{sn}")
        pairs.add(rf"{sn}[\s.,_-]+{fn}")
    surnames = {re.escape(r.surname.lower()) for r in rows if len(r.surname) >= 6}
    words = re.compile(r"(?<![a-z])(" + "|".join(sorted(pairs | surnames, key=len, reverse=True)) + r")(?![a-z])")
    numbers = {v for r in rows for v in (r.pay_number, r.warrant_number)}
    number_re = re.compile(r"(?<![\d.])(" + "|".join(sorted(numbers)) + r")(?!\d)")
    emails = {r.email.lower() for r in rows}
    for t in texts:
        for m in (words.search(t), number_re.search(t)):
            if m:
                problems.append(f"{m.group()!r} in …{t[max(0, m.start() - 80):m.end() + 80]!r}…")
        problems.extend(f"e-mail {e!r}" for e in emails if e in t)
    joined = b"\xff".join(blobs)
    for r in rows:
        for v in (r.pay_number, r.warrant_number, r.email.lower(), *([r.surname] if len(r.surname) >= 6 else [])):
            if v.encode() in joined:
                problems.append(f"{v!r} in a binary column")
        for v in (r.pay_number, r.warrant_number):
            if int(v) in ints:
                problems.append(f"{v} stored as a number")
    return problems


async def test_no_roster_plaintext_in_logs_pipeline_tables_or_metrics(lw, db_dsn, tmp_path):
    rows = enrol(lw, tmp_path)
    token_file = tmp_path / "push-token"
    token_file.write_text(PUSH_TOKEN + "\n")
    state = PastebinState()
    full = ["name,rank,pay no,warrant no,email,unit"] + [
        f"{r.forenames} {r.surname},{r.rank},{r.pay_number},{r.warrant_number},{r.email},{r.unit}" for r in rows[:30]]
    reversed_names = ["Surname, Forename | Warrant"] + [f"{r.surname.upper()}, {r.forenames} | {r.warrant_number}"
                                                        for r in rows[30:60]]
    creds = [f"{r.email}:Summer2024!{i}" for i, r in enumerate(rows[60:70])]
    async with serve(pastebin_app(state)) as base, Hostile() as failing:
        failing.route("/api_scraping.php", respond(500, "Internal Server Error"))
        config = (source_toml("paste", base) + source_toml("failing", failing.url, interval=0.5, timeout=2)
                  + push_toml("drop", token_file))
        failing_env = {"LEAKWATCH_PIPELINE_SOURCE_FAILURES_ALERT": "1"}  # operator alerts too
        d = Daemon(lw.env, tmp_path, config, lease=3, extra_env=failing_env).start()
        conn = await asyncpg.connect(db_dsn)
        try:
            await d.wait_ready()
            now = int(time.time())
            state.add("full0001", now, "\n".join(full) + "\n")
            state.add("bg000001", now + 1, benign("bg000001"))
            status, text = await post(d, "drop", jsonl({"id": "rev-1", "content": "\n".join(reversed_names)},
                                                       {"id": "creds-1", "content": "\n".join(creds)}), PUSH_TOKEN)
            assert status == 202, text
            await wait_until(lambda: conn.fetchval("SELECT count(*) >= 1 FROM match_jobs WHERE state = 'done'"),
                             30, what="matching under way")
            assert await conn.fetchval(CUT) > 0  # error paths write logs too
            await wait_until(lambda: conn.fetchval("SELECT count(*) = 4 FROM match_jobs WHERE state = 'done'"),
                             60, what="every document matched")
            found = {r["external_id"] for r in await conn.fetch(
                "SELECT d.external_id FROM findings f JOIN documents d ON d.id = f.document_id")}
            assert found == {"full0001", "rev-1", "creds-1"}, "the test is about what is said of real findings"
            await wait_until(lambda: conn.fetchval("SELECT consecutive_failures >= 1 FROM sources WHERE name = 'failing'"),
                             30, what="the failing source's error recorded")
            await asyncio.sleep(2)  # pages and operator alerts written
            _, metrics_text = await d.get("/metrics")
            code, _ = await d.stop()
            assert code == 0
            listed = lw("findings", "--format", "jsonl", "--min-severity", "low")
            assert listed.code == 0 and len(listed.out.splitlines()) == 3, listed.err
            health = lw("sources", "--config", str(d.config), "--format", "json", env=failing_env)
            assert health.code == 1 and '"failing"' in health.out, health.err

            tables, values = await dump_tables(conn)
            assert {"sources", "documents", "match_jobs", "findings"} <= set(tables)
        finally:
            await conn.close()
            if d.proc.poll() is None:
                d.kill()

    log_text = "\n".join(d.lines())
    assert any(e.get("event") == "finding" for e in d.events()) and "source_failed" in log_text
    texts = [v for v in values if isinstance(v, str)]
    texts += [log_text, metrics_text, listed.out, health.out, *lw.logs]
    blobs = [bytes(v) for v in values if isinstance(v, (bytes, bytearray, memoryview))]
    ints = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
    problems = roster_leaks(texts, blobs, ints, rows)
    assert not problems, "roster plaintext found:\n" + "\n".join(problems[:20])
