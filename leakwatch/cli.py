"""The `leakwatch` command line.

Exit codes: 0 success (for `scan`: nothing found), 1 findings (`scan`), 2 error
(bad input, bad configuration, unreachable database), 130 interrupted.
Every option that has an environment twin names it in its help.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from leakwatch import __version__
from leakwatch.config import Config, load_config
from leakwatch.errors import ConfigError, LeakwatchError
from leakwatch.log import event, setup_logging
from leakwatch.models import Severity

log = logging.getLogger("leakwatch.cli")

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

ENV_HELP = """
environment:
  LEAKWATCH_CONFIG     TOML configuration file (see deploy/leakwatch.example.toml)
  DATABASE_URL         Postgres DSN; unset: an embedded server in LEAKWATCH_DATA_DIR/pg
  LEAKWATCH_KEY_FILE   the 32-byte roster key (create with `leakwatch key generate`)
  LEAKWATCH_DATA_DIR   folder for the embedded database and demo files (default .leakwatch)
  LEAKWATCH_LOG_FORMAT auto|json|text (auto: text on a terminal, JSON otherwise)
  LEAKWATCH_<SECTION>_<SETTING> overrides [section] setting of the TOML file
"""


def _progress(total: int | None, unit: str, desc: str):
    """A tqdm bar on a terminal; None (no output) otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False)


# --------------------------------------------------------------------------- database and key

def resolve_dsn(cfg: Config) -> str:
    if cfg.database_url:
        return cfg.database_url
    from leakwatch.db.embedded import embedded_dsn

    return embedded_dsn(cfg.data_dir)


def load_hasher(cfg: Config):
    from leakwatch.keys import Hasher, load_key

    if not cfg.key_file:
        raise ConfigError("LEAKWATCH_KEY_FILE: not set (the roster key; create one with `leakwatch key generate PATH`)")
    return Hasher(load_key(cfg.key_file))


async def _connect(cfg: Config, *, check: bool = True):
    from leakwatch.db import check_schema, connect

    conn = await connect(resolve_dsn(cfg))
    if check:
        try:
            await check_schema(conn)
        except BaseException:
            await conn.close()
            raise
    return conn


def _table(columns: dict):
    from leakwatch.index import StaffTable

    return StaffTable(refs=columns["ref"], rank=columns["rank"], unit=columns["unit"], vetting=columns["vetting"],
                      sensitive=columns["sensitive"], leaver=columns["leaver"])


async def load_context(cfg: Config, hasher):
    """Build the match context: hashed roster from the database, population table, settings."""
    from leakwatch import snapshot
    from leakwatch.db.store import check_key, check_scheme, load_number_lengths, load_roster, load_staff_table
    from leakwatch.index import IndexBuilder, MatchContext, RosterIndex
    from leakwatch.population import load_population

    folder = Path(cfg.data_dir) / "index"
    index = token = None
    mapped = False  # the index came from the snapshot on disk
    conn = await _connect(cfg)
    try:
        await check_key(conn, hasher.fingerprint)
        await check_scheme(conn)
        # One snapshot of the database for the attributes and the entries alike.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            lengths = await load_number_lengths(conn)
            if cfg.match.index_cache:
                columns, digests, tokens = await load_staff_table(conn, cfg.roster.leaver_days)
                token = snapshot.roster_token(hasher.fingerprint, columns["ref"], digests, tokens)
                arrays = snapshot.load(folder, token) if columns["ref"] else None
                if arrays is not None:
                    mapped = True
                    index = RosterIndex(arrays["keys"], arrays["staff"], arrays["fields"], arrays["kinds"],
                                        arrays["tokens"].tolist(), _table(columns))
            if index is None:
                builder = IndexBuilder()
                columns, tokens = await load_roster(conn, cfg.roster.leaver_days, builder.add)
                if builder.count:
                    index = builder.build(tokens, _table(columns))
                    if token is not None:
                        snapshot.save(folder, token, index)
    finally:
        await conn.close()
    if index is None or not index.roster_size:
        raise ConfigError("the roster is empty: enrol one with `leakwatch roster import FILE`")
    table = index.table
    event(log, "roster_loaded", staff=len(table), entries=len(index), name_tokens=len(index.name_tokens),
          snapshot=mapped)
    return MatchContext(hasher=hasher, index=index, population=load_population(cfg.match.population_file).load(),
                        force_domains=cfg.match.force_domains, force_names=cfg.match.force_names,
                        suppliers=cfg.match.suppliers, identifier_lengths=lengths,
                        sensitive_units=cfg.roster.sensitive_units)


# --------------------------------------------------------------------------- commands

def cmd_key_generate(args, cfg: Config) -> int:
    from leakwatch.keys import Hasher, generate_key_file, load_key

    path = generate_key_file(args.path)
    print(f"wrote {path} (32 bytes, mode 0600); fingerprint {Hasher(load_key(path)).fingerprint[:12]}")
    print("keep it in a secret store: with it and the database, the roster can be enumerated")
    return EXIT_OK


def cmd_db_migrate(args, cfg: Config) -> int:
    from leakwatch.db import SCHEMA_VERSION, migrate

    async def go():
        conn = await _connect(cfg, check=False)
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    applied = asyncio.run(go())
    if applied:
        print(f"applied migrations {', '.join(f'{v:03d}' for v in applied)}; schema at version {SCHEMA_VERSION}")
    else:
        print(f"schema already at version {SCHEMA_VERSION}; nothing to do")
    return EXIT_OK


def _read_roster_file(path: str):
    from leakwatch.roster.reader import count_data_rows, read_roster

    total = count_data_rows(path)
    bar = _progress(total, "rows", "reading")
    try:
        return read_roster(path, progress=(lambda n: bar.update(n - bar.n)) if bar else None)
    finally:
        if bar:
            bar.close()


def cmd_roster_import(args, cfg: Config) -> int:
    from leakwatch.db.store import write_enrolment
    from leakwatch.roster.enrol import enrol_parallel

    hasher = load_hasher(cfg)
    read = _read_roster_file(args.file)
    if read.problems:
        for p in read.problems[:50]:
            print(f"error: {p}", file=sys.stderr)
        if len(read.problems) > 50:
            print(f"error: ... and {len(read.problems) - 50} more", file=sys.stderr)
        if not args.skip_invalid:
            print(f"{args.file}: {len(read.problems)} problem(s); nothing enrolled "
                  "(fix them, or pass --skip-invalid to enrol the valid rows)", file=sys.stderr)
            return EXIT_ERROR
    if not read.rows:
        print(f"{args.file}: no valid rows; nothing enrolled", file=sys.stderr)
        return EXIT_ERROR
    bar = _progress(len(read.rows), "staff", "hashing")
    enrolment = enrol_parallel(read.rows, hasher.key, cfg.roster.sensitive_units,
                               progress=bar.update if bar else None)
    if bar:
        bar.close()
    rejected = len({(p.sheet, p.line) for p in read.problems})
    del read  # the plaintext goes no further

    async def go():
        conn = await _connect(cfg)
        try:
            return await write_enrolment(conn, enrolment, fingerprint=hasher.fingerprint,
                                         replace=args.replace, rejected=rejected)
        finally:
            await conn.close()

    counts = asyncio.run(go())
    entries = ", ".join(f"{k} {v}" for k, v in sorted(enrolment.counts.items()))
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"{summary}; index entries: {entries}")
    event(log, "roster_imported", **counts)
    return EXIT_OK


def cmd_roster_refs(args, cfg: Config) -> int:
    hasher = load_hasher(cfg)
    read = _read_roster_file(args.file)
    for p in read.problems:
        print(f"warning: {p}", file=sys.stderr)
    out = sys.stdout
    out.write("staff_id,ref\n")
    for row in read.rows:
        sid = row.staff_id
        if any(c in sid for c in ',"\n'):
            sid = '"' + sid.replace('"', '""') + '"'
        out.write(f"{sid},{hasher.ref(row.staff_id)}\n")
    return EXIT_ERROR if read.problems and not read.rows else EXIT_OK


def cmd_roster_stats(args, cfg: Config) -> int:
    from leakwatch.db.store import roster_stats

    async def go():
        conn = await _connect(cfg)
        try:
            return await roster_stats(conn)
        finally:
            await conn.close()

    stats = asyncio.run(go())
    if args.format == "json":
        print(json.dumps(stats, default=str))
    else:
        for k, v in stats.items():
            print(f"{k:12} {v}")
    return EXIT_OK


def cmd_scan(args, cfg: Config) -> int:
    from leakwatch.scan import Scanner, count_size, iter_files, limits_from, scan_files

    min_sev = Severity.parse(args.min_severity) if args.min_severity else (
        Severity.NONE if args.format == "jsonl" else Severity.LOW)
    try:
        files = list(iter_files(args.paths))
    except FileNotFoundError as exc:
        print(f"error: {exc.args[0]}: no such file or folder", file=sys.stderr)
        return EXIT_ERROR
    hasher = load_hasher(cfg)
    ctx = asyncio.run(load_context(cfg, hasher))
    scanner = Scanner(ctx)
    bar = _progress(count_size(files), "B", "scanning")
    worst = Severity.NONE
    errors = 0
    out = sys.stdout
    for res in scan_files(files, scanner, limits_from(cfg), workers=args.workers or cfg.match.workers):
        if bar:
            bar.update(res.size)
        if res.error:
            errors += 1
            print(f"error: {res.path}: {res.error}", file=sys.stderr)
            continue
        for f in res.findings:
            sev = Severity(f.pop("_severity"))
            worst = max(worst, sev)
            if sev < min_sev:
                continue
            if args.format == "jsonl":
                out.write(json.dumps(f) + "\n")
            else:
                out.write(_text_finding(f))
        out.flush()
    if bar:
        bar.close()
    event(log, "scan_done", files=len(files), errors=errors, worst=str(worst))
    if errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if worst >= max(min_sev, Severity.LOW) else EXIT_OK


def _text_finding(f: dict) -> str:
    lines = [f"{f['severity'].upper():8} {f['source']}  score {f['score']}"]
    lines += [f"         {r}" for r in f["reasons"]]
    if f["staff"]:
        refs = ", ".join(s["ref"] for s in f["staff"][:10])
        more = f" (+{len(f['staff']) - 10} more)" if len(f["staff"]) > 10 else ""
        lines.append(f"         staff: {refs}{more}")
    return "\n".join(lines) + "\n"


def _daemon(args, cfg: Config, roles: set[str]) -> int:
    import os

    from leakwatch.daemon import Daemon

    import signal

    setup_logging(cfg.log_format, cfg.log_level, stream=sys.stdout)
    # Until the event loop takes SIGTERM over, it ends start-up at once (as PID 1 in a container
    # the default action would be ignored, and the pod would wait out its grace period).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_OK))
    dsn = resolve_dsn(cfg)
    if getattr(args, "migrate", False):
        cmd_db_migrate(args, cfg)
    hasher = load_hasher(cfg) if "match" in roles else None
    daemon = Daemon(cfg, dsn, roles, hasher=hasher)
    try:
        daemon.prepare()
        asyncio.run(daemon.serve())
    finally:
        daemon.close()
    if daemon.restart:
        event(log, "restarting", reason="roster changed or a match worker died")
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "leakwatch.cli", *sys.argv[1:]])
    return EXIT_ERROR if daemon.failed else EXIT_OK


def cmd_run(args, cfg: Config) -> int:
    return _daemon(args, cfg, {"collect", "match", "notify", "web"})


def cmd_collect(args, cfg: Config) -> int:
    return _daemon(args, cfg, {"collect", "web"})


def cmd_match(args, cfg: Config) -> int:
    if args.retry_dead:
        from leakwatch.db.pipeline import retry_dead

        async def go():
            conn = await _connect(cfg)
            try:
                return await retry_dead(conn)
            finally:
                await conn.close()

        n = asyncio.run(go())
        print(f"{n} dead job(s) queued again")
        return EXIT_OK
    return _daemon(args, cfg, {"match", "web"})


def cmd_notify(args, cfg: Config) -> int:
    return _daemon(args, cfg, {"notify", "web"})


def cmd_web(args, cfg: Config) -> int:
    return _daemon(args, cfg, {"web"})


def parse_since(text: str):
    """`2h`, `30m`, `7d`, `90s` or an ISO-8601 time -> an aware datetime."""
    import re
    from datetime import datetime, timedelta, timezone

    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return datetime.now(timezone.utc) - timedelta(**{unit: int(m.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration like 2h, 30m, 7d or an ISO-8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cmd_findings(args, cfg: Config) -> int:
    from leakwatch.db.pipeline import list_findings

    async def go():
        conn = await _connect(cfg)
        try:
            return await list_findings(conn, args.since, int(Severity.parse(args.min_severity)), args.limit)
        finally:
            await conn.close()

    rows = asyncio.run(go())
    out = sys.stdout
    for r in rows:
        doc = {"id": r["id"], "created_at": r["created_at"].isoformat(), "severity": str(Severity(r["severity"])),
               "score": round(r["score"], 2), "source": r["source"], "url": r["url"],
               "fetched_at": r["fetched_at"].isoformat(),
               "staff": [{k: s[k] for k in ("ref", "kinds", "confidence", "rank", "unit")} for s in r["staff"]],
               "credentials": r["credentials"], "reasons": r["reasons"], "parts": r["parts"],
               "rejections": r["rejections"], "duplicate_of": r["duplicate_of"]}
        if args.format == "jsonl":
            out.write(json.dumps(doc) + "\n")
        else:
            dup = f"  (same content as finding #{r['duplicate_of']})" if r["duplicate_of"] else ""
            out.write(f"#{r['id']:<6} {doc['severity'].upper():8} {r['created_at']:%Y-%m-%d %H:%M:%S}  "
                      f"{r['source']}  {r['url'] or ''}{dup}\n")
            out.writelines(f"         {reason}\n" for reason in r["reasons"][:10])
            if r["staff"]:
                refs = ", ".join(s["ref"] for s in r["staff"][:10])
                more = f" (+{len(r['staff']) - 10} more)" if len(r["staff"]) > 10 else ""
                out.write(f"         staff: {refs}{more}\n")
    if args.format == "text" and not rows:
        print(f"no findings at or above {args.min_severity} since {args.since:%Y-%m-%d %H:%M:%S %Z}", file=sys.stderr)
    return EXIT_OK


def cmd_sources(args, cfg: Config) -> int:
    from datetime import datetime, timezone

    from leakwatch.db.pipeline import source_health
    from leakwatch.plugins import load_sources

    configured = {s.settings.name: s for s in load_sources(cfg.sources, enabled_only=False)}

    async def go():
        conn = await _connect(cfg)
        try:
            return await source_health(conn)
        finally:
            await conn.close()

    rows = {r["name"]: r for r in asyncio.run(go())}
    now = datetime.now(timezone.utc)
    out = []
    for name in sorted(set(configured) | set(rows)):
        r = rows.get(name, {})
        src = configured.get(name)
        interval = src.settings.interval if src else None
        silent_after = (src.settings.silent_after if src and src.settings.silent_after else
                        (max(3 * interval, 300) if interval else None))
        last_ok = r.get("last_success_at")
        enabled = next((raw.get("enabled", True) is not False for raw in cfg.sources if raw.get("name") == name), True)
        if src is None:
            status = "not configured"
        elif not enabled:
            status = "disabled"
        elif not hasattr(src, "poll"):
            status = "push"
        elif not r or r.get("last_poll_at") is None:
            status = "never polled"
        elif r["consecutive_failures"] >= cfg.pipeline.source_failures_alert:
            status = "failing"
        elif last_ok is None or (silent_after and (now - last_ok).total_seconds() > silent_after):
            status = "silent"
        elif r["consecutive_failures"]:
            status = "degraded"
        else:
            status = "ok"
        out.append({"name": name, "kind": (src.kind if src else r.get("kind")), "status": status,
                    "interval": interval, "last_success": last_ok.isoformat() if last_ok else None,
                    "last_error": r.get("last_error"),
                    "last_error_at": r["last_error_at"].isoformat() if r.get("last_error_at") else None,
                    "consecutive_failures": r.get("consecutive_failures", 0), "polls": r.get("polls", 0),
                    "errors": r.get("errors", 0), "items": r.get("items", 0),
                    "items_last_hour": r.get("items_last_hour", 0),
                    "paused_until": r["paused_until"].isoformat() if r.get("paused_until") else None})
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        if not out:
            print("no sources configured ([[sources]] in the configuration file)", file=sys.stderr)
        for s in out:
            ago = "never"
            if s["last_success"]:
                secs = (now - datetime.fromisoformat(s["last_success"])).total_seconds()
                ago = f"{secs:.0f}s ago" if secs < 120 else f"{secs / 60:.0f}m ago" if secs < 7200 else f"{secs / 3600:.1f}h ago"
            print(f"{s['name']:20} {s['kind'] or '?':16} {s['status']:14} last ok {ago:10} "
                  f"items {s['items']:<8} last hour {s['items_last_hour']:<6} "
                  f"failures {s['consecutive_failures']}" + (f"  last error: {s['last_error']}" if s["last_error"] else ""))
    bad = [s for s in out if s["status"] in ("failing", "silent")]
    return EXIT_FINDINGS if bad else EXIT_OK


def cmd_demo(args, cfg: Config) -> int:
    from leakwatch.demo import run_demo

    return run_demo(cfg, Path(args.dir))


# --------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="leakwatch",
        description="Watch public places for leaked staff data, matched against a roster held only as keyed hashes.",
        epilog=ENV_HELP + "\nexit codes: 0 ok / nothing found, 1 findings (scan), 2 error, 130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"leakwatch {__version__}")
    p.add_argument("--config", metavar="FILE", help="TOML configuration file (env LEAKWATCH_CONFIG)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(parent, name, func, help_, desc=None):
        sp = parent.add_parser(name, help=help_, description=desc or help_, epilog=ENV_HELP,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(func=func)
        sp.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="TOML configuration file (env LEAKWATCH_CONFIG)")
        return sp

    key = sub.add_parser("key", help="manage the roster key", description="Manage the roster key.")
    keysub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    kg = add(keysub, "generate", cmd_key_generate, "write 32 random bytes to a new key file (mode 0600)",
             "Write a new 32-byte roster key to PATH with mode 0600. Refuses to overwrite an existing file.")
    kg.add_argument("path", metavar="PATH", help="where to write the key")

    db = sub.add_parser("db", help="database schema", description="Database schema management.")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    add(dbsub, "migrate", cmd_db_migrate, "apply pending SQL migrations (advisory-locked, idempotent)")

    roster = sub.add_parser("roster", help="enrol and inspect the staff roster",
                            description="Enrol and inspect the staff roster (stored as keyed hashes only).")
    rsub = roster.add_subparsers(dest="roster_command", metavar="ACTION", required=True)
    ri = add(rsub, "import", cmd_roster_import, "enrol a CSV/TSV or XLSX roster as keyed hashes",
             "Enrol a roster file (CSV/TSV or XLSX with a header row; columns in docs/roster-format.md) "
             "in one transaction: the whole file or nothing. Needs LEAKWATCH_KEY_FILE.")
    ri.add_argument("file", metavar="FILE")
    ri.add_argument("--replace", action="store_true",
                    help="staff missing from FILE become leavers (still watched for [roster] leaver_days)")
    ri.add_argument("--skip-invalid", action="store_true",
                    help="enrol the valid rows and report the invalid ones, instead of refusing the file")
    rr = add(rsub, "refs", cmd_roster_refs, "print staff_id,ref for each row, computed locally with the key",
             "Print `staff_id,ref` for every valid row of FILE, computed with the key, without the database.")
    rr.add_argument("file", metavar="FILE")
    rs = add(rsub, "stats", cmd_roster_stats, "counts of enrolled staff and index entries (nothing identifying)")
    rs.add_argument("--format", choices=("text", "json"), default="text")

    sc = add(sub, "scan", cmd_scan, "scan files, folders and archives for staff data",
             "Scan files, folders (recursively) and archives (member by member). Prints one result per "
             "document: text, or JSON lines with --format jsonl. Exit 0: nothing found; 1: findings at or "
             "above --min-severity (and at least low); 2: an error (a file could not be read).")
    sc.add_argument("paths", nargs="+", metavar="PATH")
    sc.add_argument("--format", choices=("text", "jsonl"), default="text",
                    help="text (default) or jsonl: one JSON object per document")
    sc.add_argument("--min-severity", choices=[str(s) for s in Severity],
                    help="print documents at or above this (default: none for jsonl, low for text)")
    sc.add_argument("--workers", type=int, default=0,
                    help="worker processes (default: [match] workers, else one per core; env LEAKWATCH_MATCH_WORKERS)")

    daemon_epilog = ("Logs JSON lines on standard output when not on a terminal. SIGTERM or SIGINT: stop claiming, "
                     "finish or release in-flight work, exit 0 within 25 s. Web endpoints on [web] listen "
                     "(env LEAKWATCH_WEB_LISTEN): /healthz, /readyz, /metrics.")
    rn = add(sub, "run", cmd_run, "run every role in one process: collectors, match workers, notifier, web",
             "Run the watcher: poll every [[sources]] entry, match what they publish against the roster, "
             "record findings, page on them, and serve /healthz, /readyz, /metrics and /push/NAME. "
             + daemon_epilog)
    for name, func, help_ in (("collect", cmd_collect, "run the collectors only (and the web endpoints)"),
                              ("match", cmd_match, "run the match workers only (and the web endpoints)"),
                              ("notify", cmd_notify, "run the notifier only (and the web endpoints)"),
                              ("web", cmd_web, "run the web endpoints only")):
        sp = add(sub, name, func, help_, f"{help_[0].upper()}{help_[1:]}: one role, for a Deployment of its own. "
                 + daemon_epilog)
        sp.add_argument("--migrate", action="store_true", help="apply pending migrations first")
        if name == "match":
            sp.add_argument("--retry-dead", action="store_true",
                            help="queue every dead job again (attempts reset) and exit")
    rn.add_argument("--migrate", action="store_true", help="apply pending migrations first")

    fd = add(sub, "findings", cmd_findings, "list stored findings",
             "List findings recorded by the watcher, oldest first: severity, source, URL, reasons and staff refs "
             "(never names or numbers).")
    fd.add_argument("--since", type=parse_since, default="24h", metavar="WHEN",
                    help="a duration back from now (90s, 30m, 2h, 7d) or an ISO-8601 time (default 24h)")
    fd.add_argument("--min-severity", choices=[str(s) for s in Severity if s > Severity.NONE], default="low",
                    help="show findings at or above this (default low)")
    fd.add_argument("--format", choices=("text", "jsonl"), default="text")
    fd.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")

    so = add(sub, "sources", cmd_sources, "each configured source and its health",
             "Each configured source and its health: status (ok, degraded, failing, silent, never polled), last "
             "success, last error, items and failures. Exit 1 when a source is failing or silent.")
    so.add_argument("--format", choices=("text", "json"), default="text")

    dm = add(sub, "demo", cmd_demo, "zero-setup demonstration: embedded Postgres, synthetic roster and leak",
             "Start an embedded Postgres (unless DATABASE_URL is set), generate a synthetic roster and key, "
             "enrol it, write synthetic leaks (a staff list, a hidden-sheet spreadsheet, a paste) and benign "
             "files, scan them and print the findings. Then run the watcher against a local replica of a "
             "paste site: background pastes, then a synthetic leak, caught, recorded and paged: the page is "
             "printed, and sent when the configuration (--config or LEAKWATCH_CONFIG) has a [telegram] "
             "table with a token file and chats. All data is generated; nothing else leaves the machine.")
    dm.add_argument("--dir", default=".leakwatch/demo", help="working folder (default .leakwatch/demo)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        setup_logging(cfg.log_format, cfg.log_level)
        return args.func(args, cfg)
    except LeakwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
