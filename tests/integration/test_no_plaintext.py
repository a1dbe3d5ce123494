"""The watcher must never become the next leak: no roster value in the database, logs or output."""

from __future__ import annotations

import asyncio
import csv
import re

import asyncpg

from synthetic import population_rows, write_roster_csv


def dump_database(dsn: str) -> list[object]:
    """Every value of every row of every table in the public schema."""
    async def go():
        conn = await asyncpg.connect(dsn)
        try:
            tables = [r["tablename"] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            values: list[object] = []
            for t in tables:
                for row in await conn.fetch(f'SELECT * FROM "{t}"'):
                    values.extend(row.values())
            return tables, values
        finally:
            await conn.close()

    return asyncio.run(go())


def test_no_roster_value_in_database_logs_or_scan_output(lw, db_dsn, tmp_path):
    """After enrolment and a scan, no forename, surname, number or address is stored or printed."""
    rows = population_rows(3000, seed=99)
    roster = write_roster_csv(tmp_path / "roster.csv", rows)
    imported = lw("roster", "import", str(roster))
    assert imported.code == 0, imported.err
    leak = tmp_path / "leak.csv"
    with leak.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Surname", "Forename", "Rank", "Pay No", "Email"])
        for r in rows[:60]:
            w.writerow([r.surname, r.forenames, r.rank, r.pay_number, r.email])
    scanned = lw("scan", "--format", "jsonl", str(leak))
    assert scanned.code == 1, scanned.err  # it found them: the test is about what it says of them
    stats = lw("roster", "stats", "--format", "json")
    assert stats.code == 0

    tables, values = dump_database(db_dsn)
    assert {"staff", "meta", "name_tokens", "roster_imports"} <= set(tables)
    texts = [v.lower() for v in values if isinstance(v, str)]
    texts += [str(v).lower() for v in values if isinstance(v, (dict, list))]
    blobs = [bytes(v) for v in values if isinstance(v, (bytes, bytearray, memoryview))]
    # The sorted index the scan left on disk (leakwatch/snapshot.py) is searched as well.
    snapshot_files = [p for p in (tmp_path / "data" / "index").rglob("*.npy")]
    assert len(snapshot_files) == 5
    blobs += [p.read_bytes() for p in snapshot_files]
    ints = {v for v in values if isinstance(v, int)}
    said = "\n".join(lw.logs + [imported.out, scanned.out, stats.out]).lower()
    # Refs and key fingerprints are random-looking letters: a two-letter name can occur in one
    # by chance; a timestamp's microseconds can equal a 6-digit pay number. They are opaque or
    # clock-made by construction, so they are taken out before searching.
    opaque = re.compile(r"s-[a-z2-7]{16}|\b[0-9a-f]{12,}"
                        r"|\d{4}-\d\d-\d\d[t ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:?\d\d|z)?")
    said = opaque.sub(" ", said)
    texts = [opaque.sub(" ", t) for t in texts]
    assert scanned.out.count("\n") == 1 and '"staff"' in scanned.out

    names = {v.lower() for r in rows for v in (r.forenames, r.surname) if v}
    numbers = {v for r in rows for v in (r.pay_number, r.warrant_number)}
    emails = {r.email.lower() for r in rows}
    # A leaked name stands as a word ("Chang" in "unchanged" is no leak); one pattern for all.
    any_name = re.compile(r"(?<![a-z])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")(?![a-z])")
    for text in texts + [said]:
        m = any_name.search(text)
        assert m is None, f"roster name {m.group()!r} in: {text[max(0, m.start() - 60):m.end() + 60]!r}"
    all_text = "\x00".join(texts + [said])
    all_bytes = b"\xff".join(blobs)  # random bytes: a 5+ byte ASCII run of a value is no coincidence
    for name in names:
        if len(name) >= 5:
            assert name.encode() not in all_bytes
    for number in numbers:
        assert int(number) not in ints
        assert number not in all_text
        assert number.encode() not in all_bytes
    for addr in emails:
        assert addr not in all_text
