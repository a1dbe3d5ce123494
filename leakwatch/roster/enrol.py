"""Turn roster rows into keyed entries: what each matcher asks for, grouped per staff member.

Plaintext goes in, only keyed hashes, refs and the non-identifying attributes
(rank, unit, vetting) come out. Hashing is spread over processes for big rosters.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context

from rapidfuzz import fuzz

from leakwatch.index import Field, Kind, MatchContext
from leakwatch.keys import Hasher
from leakwatch.models import RosterRow
from leakwatch.normalise import fold
from leakwatch.plugins import load_matchers

PAD_TO = 8  # key arrays are padded with random values to a multiple of this
CHUNK = 2000  # rows per worker task
SENSITIVE_CUTOFF = 90  # rapidfuzz token_set_ratio for "this unit is a sensitive one"


_FIELD_NAMES = {int(f): f.name.lower() for f in Field}


@dataclass(slots=True)
class EnrolledStaff:
    ref: str
    rank: str | None
    unit: str | None
    vetting: str | None
    sensitive: bool
    digest: bytes
    entries: list[tuple[int, int, list[int]]]  # (field, kind, padded keys)


@dataclass
class Enrolment:
    staff: list[EnrolledStaff] = field(default_factory=list)
    tokens: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # entries by field name


@lru_cache(maxsize=4096)
def is_sensitive(unit: str, sensitive_units: tuple[str, ...]) -> bool:
    """Whether a unit is one of the configured sensitive ones (public vocabulary, fuzzily)."""
    if not unit:
        return False
    u = fold(unit)
    return any(fuzz.token_set_ratio(u, fold(s)) >= SENSITIVE_CUTOFF for s in sensitive_units)


def _pad(keys: list[int]) -> list[int]:
    short = (-len(keys)) % PAD_TO
    if not short:
        return keys
    return keys + list(struct.unpack(f"<{short}q", secrets.token_bytes(8 * short)))


def enrol_rows(rows: list[RosterRow], hasher: Hasher, sensitive_units: tuple[str, ...],
               matchers=None) -> Enrolment:
    """Entries for each row from every matcher; no I/O."""
    matchers = matchers if matchers is not None else load_matchers()
    ctx = MatchContext(hasher=hasher)
    out = Enrolment()
    token_field = int(Field.TOKEN)
    for row in rows:
        grouped: dict[tuple[int, int], list[int]] = defaultdict(list)
        for m in matchers:
            for fld, kind, key in m.entries(row, ctx):
                if fld == token_field:
                    out.tokens.add(key)
                else:
                    grouped[fld, kind].append(key)
        digest = hashlib.blake2b(digest_size=16)
        entries = []
        for (fld, kind) in sorted(grouped):
            keys = sorted(set(grouped[(fld, kind)]))
            digest.update(struct.pack(f"<hh{len(keys)}q", fld, kind, *keys))
            entries.append((int(fld), int(kind), _pad(keys)))
            out.counts[_FIELD_NAMES[fld]] += len(keys)
        out.staff.append(EnrolledStaff(
            ref=hasher.ref(row.staff_id), rank=row.rank or None, unit=row.unit or None,
            vetting=row.vetting or None, sensitive=is_sensitive(row.unit, sensitive_units),
            digest=digest.digest(), entries=entries,
        ))
    out.counts["name_tokens"] = len(out.tokens)
    return out


_worker_state: dict = {}


def _init_worker(key: bytes, sensitive_units: tuple[str, ...]) -> None:
    _worker_state["hasher"] = Hasher(key)
    _worker_state["units"] = sensitive_units
    _worker_state["matchers"] = load_matchers()


def _work(rows: list[RosterRow]) -> Enrolment:
    e = enrol_rows(rows, _worker_state["hasher"], _worker_state["units"], _worker_state["matchers"])
    e.counts = dict(e.counts)
    return e


def enrol_parallel(rows: list[RosterRow], key: bytes, sensitive_units: tuple[str, ...],
                   workers: int = 0, progress=None) -> Enrolment:
    """`enrol_rows` over worker processes for big rosters; order of staff is kept."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(rows) <= CHUNK:
        result = enrol_rows(rows, Hasher(key), sensitive_units)
        if progress:
            progress(len(rows))
        return result
    chunks = [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]
    total = Enrolment()
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_init_worker,
                             initargs=(key, sensitive_units)) as pool:
        for part, chunk in zip(pool.map(_work, chunks), chunks):
            total.staff.extend(part.staff)
            total.tokens |= part.tokens
            for k, v in part.counts.items():
                if k != "name_tokens":
                    total.counts[k] += v
            if progress:
                progress(len(chunk))
    total.counts["name_tokens"] = len(total.tokens)
    return total


def context_from_enrolment(enrolment: Enrolment, hasher: Hasher, population=None, **settings) -> MatchContext:
    """A match context straight from an enrolment, without the database (tests, benchmarks)."""
    from leakwatch.index import RosterIndex, StaffTable
    from leakwatch.population import load_population

    staff = enrolment.staff
    table = StaffTable(refs=[s.ref for s in staff], rank=[s.rank for s in staff], unit=[s.unit for s in staff],
                       vetting=[s.vetting for s in staff], sensitive=[s.sensitive for s in staff],
                       leaver=[False] * len(staff))
    rows = [(i, f, k, keys) for i, s in enumerate(staff) for f, k, keys in s.entries]
    index = RosterIndex.from_entries(rows, enrolment.tokens, table)
    return MatchContext(hasher=hasher, index=index, population=population or load_population(), **settings)
