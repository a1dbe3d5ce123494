"""`leakwatch demo`: the whole job on generated data, with nothing installed but Python.

Starts (or reuses) an embedded Postgres, writes a key and a synthetic roster drawn
from the shipped name-frequency table, enrols it, writes synthetic leaks and
benign files, scans them and prints what was found. Every person is generated.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from leakwatch.config import Config
from leakwatch.population import load_population

RANKS = ["PC", "PC", "PC", "DC", "PS", "DS", "Insp", "DI", "Ch Insp", "Supt", "Police Staff"]
UNITS = ["Territorial Policing", "Roads Policing", "Custody", "Forensics", "Public Order",
         "Counter Terrorism Command", "Professional Standards", "Safer Neighbourhoods"]
VETTING = ["NPPV2", "NPPV3", "RV", "CTC", "SC", "DV"]
DOMAIN = "demo-force.police.example"
STATIONS = ["Northgate", "Riverside", "Eastbrook", "Hillcrest", "Westmarsh"]


def _names(rng: random.Random):
    draw = load_population().sampler(rng)

    def person() -> tuple[str, str]:
        fn, sn = draw()
        return fn.title(), sn.title()

    return person


def write_roster(path: Path, n: int, rng: random.Random) -> list[dict]:
    person = _names(rng)
    pays = rng.sample(range(100000, 999999), n)
    warrants = rng.sample(range(1000000, 9999999), n)
    staff = []
    for i in range(n):
        fn, sn = person()
        staff.append({
            "staff_id": f"E{100000 + i}", "forenames": fn, "surname": sn, "pay_number": str(pays[i]),
            "warrant_number": str(warrants[i]), "email": f"{fn}.{sn}{i}@{DOMAIN}".lower().replace(" ", ""),
            "rank": rng.choice(RANKS), "unit": rng.choice(UNITS), "vetting": rng.choice(VETTING),
        })
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(staff[0]))
        w.writeheader()
        w.writerows(staff)
    return staff


def write_leaks(inbox: Path, staff: list[dict], rng: random.Random) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    person = _names(rng)
    leaked = rng.sample(staff, 40)
    with (inbox / "supplier_export.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Surname", "Forename", "Rank", "Unit", "Pay No", "Vetting"])
        for s in leaked:
            w.writerow([s["surname"].upper(), s["forenames"], s["rank"], s["unit"], s["pay_number"], s["vetting"]])
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["Freedom of Information response: officers by rank"])
    ws.append(["Rank", "Headcount"])
    for r in ("PC", "PS", "Insp"):
        ws.append([r, rng.randint(100, 3000)])
    hidden = wb.create_sheet("Data")
    hidden.sheet_state = "hidden"
    hidden.append(["Surname", "Initial", "Rank", "Station"])
    for s in rng.sample(staff, 300):
        hidden.append([s["surname"], s["forenames"][0], s["rank"], rng.choice(STATIONS)])
    wb.save(inbox / "foi_response.xlsx")
    officer = rng.choice(staff)
    (inbox / "paste_8f3k2.txt").write_text(
        "found this one lol\n"
        f"{officer['rank']} {officer['forenames']} {officer['surname']} warrant {officer['warrant_number']}\n"
        f"works {officer['unit']}, seen at {rng.choice(STATIONS)} most days\n")
    with (inbox / "club_members.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Surname", "Forename", "Membership No"])
        for _ in range(40):
            fn, sn = person()
            w.writerow([sn, fn, rng.randint(100000, 999999)])
    (inbox / "release_notes.txt").write_text(
        "v2.3.1\n- fixed the login redirect\n- upgraded the parser\n- thanks to everyone who reported bugs\n")


def run_demo(cfg: Config, workdir: Path) -> int:
    from leakwatch import cli
    from leakwatch.db import migrate
    from leakwatch.db.store import write_enrolment
    from leakwatch.keys import Hasher, generate_key_file, load_key
    from leakwatch.roster.enrol import enrol_parallel
    from leakwatch.roster.reader import read_roster
    from leakwatch.scan import Scanner, iter_files, limits_from, scan_files

    t0 = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    say = lambda msg: print(f"[demo {time.monotonic() - t0:5.1f}s] {msg}", flush=True)  # noqa: E731
    key_file = workdir / "roster.key"
    if not key_file.exists():
        generate_key_file(key_file)
    cfg = Config(**{**cfg.__dict__, "key_file": str(key_file), "data_dir": str(workdir.parent),
                    "match": type(cfg.match)(**{**cfg.match.__dict__, "force_domains": (DOMAIN,)})})
    say("starting Postgres" + (" (embedded)" if not cfg.database_url else ""))
    dsn = cli.resolve_dsn(cfg)
    cfg = Config(**{**cfg.__dict__, "database_url": dsn})
    hasher = Hasher(load_key(key_file))

    async def prepare(enrolment=None):
        conn = await cli._connect(cfg, check=False)
        try:
            await migrate(conn)
            if enrolment is not None:
                return await write_enrolment(conn, enrolment, fingerprint=hasher.fingerprint, replace=True,
                                             rejected=0)
        finally:
            await conn.close()

    asyncio.run(prepare())
    rng = random.Random(2023)
    roster_path = workdir / "roster.csv"
    say("generating a synthetic roster of 5,000 staff (generated names and numbers)")
    staff = write_roster(roster_path, 5000, rng)
    read = read_roster(roster_path)
    enrolment = enrol_parallel(read.rows, hasher.key, cfg.roster.sensitive_units)
    counts = asyncio.run(prepare(enrolment))
    say(f"enrolled as keyed hashes: {counts}")
    inbox = workdir / "inbox"
    write_leaks(inbox, staff, rng)
    say(f"wrote synthetic leaks and benign files to {inbox}")
    ctx = asyncio.run(cli.load_context(cfg, hasher))
    files = list(iter_files([str(inbox)]))
    say(f"scanning {len(files)} files")
    for res in scan_files(files, Scanner(ctx), limits_from(cfg), workers=1):
        for f in res.findings:
            f.pop("_severity")
            sys.stdout.write(cli._text_finding(f))
    del ctx
    watch_paste_site(cfg, dsn, hasher, staff, rng, say)
    say("done. Try: LEAKWATCH_KEY_FILE=%s .venv/bin/leakwatch scan --format jsonl %s" % (key_file, inbox))
    return 0


BACKGROUND = [
    ("nginx.conf", "server {\n  listen 80;\n  server_name example.test;\n  location / { proxy_pass http://app:8000; }\n}\n"),
    ("todo", "- buy milk\n- renew the car insurance\n- call the plumber about the boiler\n"),
    ("traceback", "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n"
                  "    main()\nKeyError: 'user_id'\n"),
    ("sql", "SELECT id, created_at FROM orders WHERE status = 'shipped' ORDER BY created_at DESC LIMIT 50;\n"),
    ("lyrics draft", "the night is long and the road is wide\nwe drove till morning with the windows down\n"),
]


def watch_paste_site(cfg: Config, dsn: str, hasher, staff: list[dict], rng: random.Random, say) -> None:
    """The watcher as it runs in production, against a local replica of a paste site."""
    from leakwatch import cli
    from leakwatch.daemon import Daemon
    from leakwatch.db import pipeline as store
    from leakwatch.db import q
    from leakwatch.demo_site import PasteSite
    from leakwatch.plugins import load_sources

    cfg = Config(**{**cfg.__dict__, "web": type(cfg.web)(listen="127.0.0.1:0"),
                    "pipeline": type(cfg.pipeline)(**{**cfg.pipeline.__dict__, "match_workers": 1,
                                                      "idle_poll": 0.5})})
    say("starting the watcher (collectors, a match worker, web endpoints) against a local paste-site replica")
    daemon = Daemon(cfg, dsn, {"collect", "match", "notify", "web"}, hasher=hasher)
    logging.getLogger("leakwatch").setLevel(logging.WARNING)  # the demo narrates; warnings still show
    daemon.prepare()

    async def main():
        site = PasteSite()
        base = await site.start()
        sources = load_sources([{"kind": "pastebin", "name": "paste-replica", "base_url": base,
                                 "interval": 1, "pace": 0}])
        stop = asyncio.Event()
        started = asyncio.Event()
        task = asyncio.create_task(daemon.serve(stop, sources=sources, on_ready=lambda d: started.set()))
        await asyncio.wait_for(started.wait(), 60)
        web = f"http://127.0.0.1:{daemon.web_port}"
        say(f"paste replica at {base}; health {web}/healthz, readiness {web}/readyz, metrics {web}/metrics")
        conn = await store.create_pool(dsn, min_size=1, max_size=2)
        since = await conn.fetchval(q("latest_finding_id"))
        try:
            for i, (title, text) in enumerate(BACKGROUND):
                site.add(text, title=title)
                await asyncio.sleep(0.4)
            victims = rng.sample(staff, 25)
            lines = ["name,rank,pay no,unit"] + [f"{s['forenames']} {s['surname']},{s['rank']},{s['pay_number']},"
                                                 f"{s['unit']}" for s in victims]
            posted = time.monotonic()
            site.add("\n".join(lines) + "\n", title="officers list")
            say("a synthetic leak of 25 staff was just posted to the replica; waiting for the watcher")
            row = None
            while time.monotonic() - posted < 60 and not task.done():
                row = await conn.fetchrow(q("next_page_finding"), since, 3)
                if row:
                    break
                await asyncio.sleep(0.2)
            if row is None:
                say("no finding within 60 s: see the log above")
                return
            say(f"caught it {time.monotonic() - posted:.1f}s after it was posted:")
            async with conn.acquire() as c:
                findings = await store.list_findings(c, datetime.fromtimestamp(0, timezone.utc), 3, 100)
            for f in findings:
                if f["id"] == row["id"]:
                    sys.stdout.write(_finding_text(f))
            alert = None
            for _ in range(50):  # the alert is written in the finding's transaction; give it a moment
                alert = await conn.fetchrow(q("alerts_of_finding"), row["id"])
                if alert:
                    break
                await asyncio.sleep(0.1)
            if alert is not None:
                from leakwatch.alerts import render_page
                from leakwatch.db import outbox

                async with conn.acquire() as c:
                    alert = await outbox.alert(c, alert["id"])
                sent = "sent to the configured chats" if cfg.telegram else \
                    "not sent: no [telegram] configured (see docs/alerts.md)"
                say(f"the page ({sent}):\n\n" + render_page(alert, public_url=cfg.web.public_url) + "\n")
                if cfg.telegram:  # let the relay deliver before the watcher stops
                    for _ in range(150):
                        async with conn.acquire() as c:
                            stats = await outbox.outbox_stats(c)
                        if not stats["pending"] and not stats["sending"]:
                            break
                        await asyncio.sleep(0.2)
                    say(f"outbox: {stats['pending'] + stats['sending']} page(s) still queued, {stats['dead']} dead")
        finally:
            await conn.close()
            stop.set()
            await task
            await site.stop()

    try:
        asyncio.run(main())
    finally:
        daemon.close()


def _finding_text(f: dict) -> str:
    from leakwatch.models import Severity

    lines = [f"#{f['id']} {str(Severity(f['severity'])).upper()} {f['source']} {f['url']}  score {f['score']:.1f}"]
    lines += [f"         {r}" for r in f["reasons"]]
    lines.append("         staff: " + ", ".join(s["ref"] for s in f["staff"][:8])
                 + (f" (+{len(f['staff']) - 8} more)" if len(f["staff"]) > 8 else ""))
    return "\n".join(lines) + "\n"

