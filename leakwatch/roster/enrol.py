"""Turn roster rows into keyed entries: what each matcher asks for, grouped per staff member.

Plaintext goes in, only keyed hashes, refs and the non-identifying attributes
(rank, unit, vetting) come out. Hashing is spread over processes for big rosters.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
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


def is_sensitive(unit: str, sensitive_units: tuple[str, ...]) -> bool:
    """Whether a unit is one of the configured sensitive ones (public vocabulary, fuzzily)."""
    if not unit:
        return False
    u = fold(unit)
    return any(fuzz.token_set_ratio(u, fold(s)) >= SENSITIVE_CUTOFF for s in sensitive_units)


def _pad(keys: list[int]) -> list[int]:
    short = (-len(keys)) % PAD_TO
    return keys + [int.from_bytes(secrets.token_bytes(8), "little", signed=True) for _ in range(short)]


def enrol_rows(rows: list[RosterRow], hasher: Hasher, sensitive_units: tuple[str, ...],
               matchers=None) -> Enrolment:
    """Entries for each row from every matcher; no I/O."""
    matchers = matchers if matchers is not None else load_matchers()
    ctx = MatchContext(hasher=hasher)
    out = Enrolment()
    for row in rows:
        grouped: dict[tuple[int, int], list[int]] = defaultdict(list)
        for m in matchers:
            for e in m.entries(row, ctx):
                if e.field == Field.TOKEN:
                    out.tokens.add(e.key)
                else:
                    grouped[(int(e.field), int(e.kind))].append(e.key)
        digest = hashlib.blake2b(digest_size=16)
        entries = []
        for (fld, kind) in sorted(grouped):
            keys = sorted(set(grouped[(fld, kind)]))
            digest.update(f"{fld}:{kind}:".encode() + b"".join(k.to_bytes(8, "little", signed=True) for k in keys))
            entries.append((fld, kind, _pad(keys)))
            out.counts[Field(fld).name.lower()] += len(keys)
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
