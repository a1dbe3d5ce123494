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
from functools import lru_cache
from typing import NamedTuple
from multiprocessing import get_context

import numpy as np
from rapidfuzz import fuzz

from leakwatch.index import Field, Kind, MatchContext
from leakwatch.keys import Hasher
from leakwatch.models import RosterRow
from leakwatch.normalise import digits, fold
from leakwatch.plugins import load_matchers

PAD_TO = 8  # key arrays are padded with random values to a multiple of this
CHUNK = 2000  # rows per worker task
SENSITIVE_CUTOFF = 90  # rapidfuzz token_set_ratio for "this unit is a sensitive one"


_FIELD_NAMES = {int(f): f.name.lower() for f in Field}


class EnrolledStaff(NamedTuple):  # a tuple: hundreds of thousands cross from worker processes
    ref: str
    rank: str | None
    unit: str | None
    vetting: str | None
    sensitive: bool
    digest: bytes  # of the entries before padding: tells "unchanged" on re-import
    keys: bytes  # big-endian int64 keys, grouped by tag, each group padded to a multiple of PAD_TO
    tags: bytes  # one byte per key: field * 4 + kind


@dataclass
class Enrolment:
    staff: list[EnrolledStaff] = field(default_factory=list)
    tokens: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # entries by field name
    # Digit counts of the pay and warrant numbers enrolled (6, 7, ...): a format, no one's number.
    number_lengths: set[int] = field(default_factory=set)


@lru_cache(maxsize=4096)
def is_sensitive(unit: str, sensitive_units: tuple[str, ...]) -> bool:
    """Whether a unit is one of the configured sensitive ones (public vocabulary, fuzzily)."""
    if not unit:
        return False
    u = fold(unit)
    return any(fuzz.token_set_ratio(u, fold(s)) >= SENSITIVE_CUTOFF for s in sensitive_units)


_TOKEN_TAG = int(Field.TOKEN) * 4 + int(Kind.EXACT)


def enrol_rows(rows: list[RosterRow], hasher: Hasher, sensitive_units: tuple[str, ...],
               matchers=None) -> Enrolment:
    """Entries for each row from every matcher, packed per staff member; no I/O.

    Matchers yield (field, kind, key); the bookkeeping (dedupe, order, padding,
    digest) is done on numpy arrays for the whole batch, not entry by entry.
    """
    matchers = matchers if matchers is not None else load_matchers()
    ctx = MatchContext(hasher=hasher)
    out = Enrolment()
    if not rows:
        return out
    flat: list[tuple[int, int, int]] = []
    bounds = [0]
    lengths = out.number_lengths
    for row in rows:
        for m in matchers:
            flat += m.entries(row, ctx)
        bounds.append(len(flat))
        for raw in (row.pay_number, row.warrant_number):
            if raw:
                lengths.add(len(digits(raw)))
    lengths.discard(0)
    arr = np.array(flat, dtype=np.int64).reshape(-1, 3)
    staff = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(bounds))
    tags = arr[:, 0] * 4 + arr[:, 1]
    keys = arr[:, 2]
    is_token = tags == _TOKEN_TAG
    out.tokens = set(np.unique(keys[is_token]).tolist())
    staff, tags, keys = staff[~is_token], tags[~is_token], keys[~is_token]
    order = np.lexsort((keys, tags, staff))
    staff, tags, keys = staff[order], tags[order], keys[order]
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = (staff[1:] != staff[:-1]) | (tags[1:] != tags[:-1]) | (keys[1:] != keys[:-1])
    staff, tags, keys = staff[keep], tags[keep], keys[keep]
    # Padding: each (staff, tag) group grows to a multiple of PAD_TO with random keys,
    # so the length of a group does not tell the length of a name.
    group_start = np.ones(len(keys), dtype=bool)
    group_start[1:] = (staff[1:] != staff[:-1]) | (tags[1:] != tags[:-1])
    starts = np.flatnonzero(group_start)
    short = (-np.diff(np.append(starts, len(keys)))) % PAD_TO
    n_pad = int(short.sum())
    all_staff = np.concatenate([staff, np.repeat(staff[starts], short)])
    all_tags = np.concatenate([tags, np.repeat(tags[starts], short)])
    all_keys = np.concatenate([keys, np.frombuffer(secrets.token_bytes(8 * n_pad), dtype=np.int64)])
    order = np.lexsort((all_keys, all_tags, all_staff))  # pads sorted in: no visible boundary
    # Counts are of padded entries: exact counts from a small import would tell name lengths.
    for t in np.unique(all_tags):
        out.counts[_FIELD_NAMES[int(t) // 4]] += int(np.count_nonzero(all_tags == t))
    p_staff = all_staff[order]
    p_tags = all_tags[order].astype(np.uint8)
    p_keys = all_keys[order].astype(">i8")
    p_bounds = np.searchsorted(p_staff, np.arange(len(rows) + 1))
    bounds_real = np.searchsorted(staff, np.arange(len(rows) + 1))
    raw_tags = tags.astype(np.uint8)
    raw_keys = keys.astype("<i8")
    sensitive: dict[str, bool] = {}
    for i, row in enumerate(rows):
        unit_sensitive = sensitive.get(row.unit)
        if unit_sensitive is None:
            unit_sensitive = sensitive[row.unit] = is_sensitive(row.unit, sensitive_units)
        a, b = bounds_real[i], bounds_real[i + 1]
        digest = hashlib.blake2b(raw_tags[a:b].tobytes() + raw_keys[a:b].tobytes(), digest_size=16).digest()
        pa, pb = p_bounds[i], p_bounds[i + 1]
        out.staff.append(EnrolledStaff(
            ref=hasher.ref(row.staff_id), rank=row.rank or None, unit=row.unit or None,
            vetting=row.vetting or None, sensitive=unit_sensitive,
            digest=digest, keys=p_keys[pa:pb].tobytes(), tags=p_tags[pa:pb].tobytes(),
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
            total.number_lengths |= part.number_lengths
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
    index = RosterIndex.from_blobs([(s.keys, s.tags) for s in staff], enrolment.tokens, table)
    settings.setdefault("identifier_lengths", frozenset(enrolment.number_lengths))
    return MatchContext(hasher=hasher, index=index, population=population or load_population(), **settings)
