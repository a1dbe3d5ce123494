"""Roster storage: write an enrolment in one transaction, read the hashed index back."""

from __future__ import annotations

import json

import asyncpg

from leakwatch.db import q
from leakwatch.errors import KeyMismatch, SchemaError
from leakwatch.index import ENTRY_SCHEME

FINGERPRINT = "key_fingerprint"
SCHEME = "entry_scheme"  # version of how entries are derived (leakwatch.index.ENTRY_SCHEME)
NUMBER_LENGTHS = "identifier_lengths"  # digit counts of enrolled pay and warrant numbers ("6,7"), ever enrolled


async def check_key(conn: asyncpg.Connection, fingerprint: str, *, claim: bool = False) -> None:
    """Refuse a key other than the one the database was enrolled under; record it when claiming."""
    found = await conn.fetchval(q("get_meta"), FINGERPRINT)
    if found is None:
        if claim:
            await conn.execute(q("set_meta"), FINGERPRINT, fingerprint)
        return
    if found != fingerprint:
        raise KeyMismatch(
            f"LEAKWATCH_KEY_FILE: this database was enrolled under key {found[:12]}…, the key file holds "
            f"key {fingerprint[:12]}…; use the original key, or re-enrol into a fresh database to rotate "
            "(docs/operations.md, key rotation)")


async def check_scheme(conn: asyncpg.Connection) -> None:
    """Refuse entries derived by another version of the matchers: their keys would never match."""
    found = await conn.fetchval(q("get_meta"), SCHEME)
    if found is not None and found != str(ENTRY_SCHEME):
        raise SchemaError(f"the roster was enrolled under entry scheme {found}, this leakwatch derives scheme "
                          f"{ENTRY_SCHEME}: run `leakwatch roster import` again with the roster file")


async def write_enrolment(conn: asyncpg.Connection, enrolment, *, fingerprint: str, replace: bool,
                          rejected: int) -> dict[str, int]:
    """Store an enrolment: all of it or nothing. Returns enrolled/updated/unchanged/deactivated counts."""
    async with conn.transaction():
        await conn.execute(q("lock_roster"))
        await check_key(conn, fingerprint, claim=True)
        await conn.execute(q("create_incoming"))
        await conn.copy_records_to_table(
            "incoming_staff",
            records=[(s.ref, s.rank, s.unit, s.vetting, s.sensitive, s.digest, s.keys, s.tags)
                     for s in enrolment.staff],
            columns=["ref", "rank", "unit", "vetting", "sensitive", "digest", "entry_keys", "entry_tags"])
        await conn.copy_records_to_table(
            "incoming_tokens", records=[(t,) for t in enrolment.tokens], columns=["key"])
        changes = await conn.fetchrow(q("count_changes"))
        await conn.execute(q("upsert_staff"))
        await conn.execute(q("insert_tokens"))
        deactivated = 0
        if replace:
            status = await conn.execute(q("deactivate_missing"))
            deactivated = int(status.split()[-1])
        await conn.execute(q("set_meta"), SCHEME, str(ENTRY_SCHEME))
        # Only ever grows: a length no staff member has any more costs a look-up, never a miss.
        lengths = set(getattr(enrolment, "number_lengths", ())) | (await load_number_lengths(conn) or set())
        await conn.execute(q("set_meta"), NUMBER_LENGTHS, ",".join(map(str, sorted(lengths))))
        counts = {"enrolled": changes["new"], "updated": changes["updated"], "unchanged": changes["unchanged"],
                  "deactivated": deactivated, "rejected": rejected}
        await conn.execute(q("record_import"), replace, counts["enrolled"], counts["updated"], counts["unchanged"],
                           deactivated, rejected, json.dumps(dict(enrolment.counts)))
    return counts


async def load_number_lengths(conn: asyncpg.Connection) -> frozenset[int] | None:
    """The digit counts of the pay and warrant numbers enrolled; None when not recorded (an older import)."""
    found = await conn.fetchval(q("get_meta"), NUMBER_LENGTHS)
    if found is None:
        return None
    return frozenset(int(x) for x in found.split(",") if x)


LOAD_BATCH = 5000  # staff rows fetched at a time


async def load_roster(conn: asyncpg.Connection, leaver_days: int, on_batch) -> tuple[dict, list[int]]:
    """Stream the staff rows to `on_batch([(keys, tags), ...])` in batches; return their
    non-identifying attributes (column -> list) and the name tokens."""
    table: dict[str, list] = {"ref": [], "rank": [], "unit": [], "vetting": [], "sensitive": [], "leaver": []}
    async with conn.transaction():
        cursor = await conn.cursor(q("load_staff"), leaver_days)
        while True:
            rows = await cursor.fetch(LOAD_BATCH)
            if not rows:
                break
            for col, values in table.items():
                values.extend(r[col] for r in rows)
            on_batch([(r["entry_keys"], r["entry_tags"]) for r in rows])
            del rows
    tokens = [r["key"] for r in await conn.fetch(q("load_name_tokens"))]
    return table, tokens


async def load_staff_table(conn: asyncpg.Connection, leaver_days: int) -> tuple[dict, list[bytes], list[int]]:
    """What `load_roster` gives without the entries (attributes, name tokens), and each row's entry digest."""
    rows = await conn.fetch(q("load_staff_table"), leaver_days)
    table = {col: [r[col] for r in rows] for col in ("ref", "rank", "unit", "vetting", "sensitive", "leaver")}
    digests = [r["digest"] for r in rows]
    tokens = [r["key"] for r in await conn.fetch(q("load_name_tokens"))]
    return table, digests, tokens


async def roster_stats(conn: asyncpg.Connection) -> dict:
    row = dict(await conn.fetchrow(q("roster_stats")))
    from leakwatch.index import Field, Kind

    row["entries"] = {f"{Field(r['tag'] // 4).name.lower()}/{Kind(r['tag'] % 4).name.lower()}": r["n"]
                      for r in await conn.fetch(q("entries_by_tag"))}
    return row
