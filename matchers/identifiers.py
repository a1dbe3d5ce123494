"""Pay and warrant numbers, after format normalisation and within edit distance 1.

An exact number says "this record is that staff member's" with strength 10^digits
(the chance a stranger's record shows it); a fuzzy one is only corroboration: a
6-digit space holding 47,000 pay numbers has a neighbour of almost every number.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from itertools import accumulate, compress
from typing import ClassVar, NamedTuple

import numpy as np

from leakwatch.index import (DEL, EXACT, F_PAY, F_WARRANT, MIN_FUZZY_NUMBER, NEARBY_LINES, SUB, MatchContext, enrol_keys,
                             unique_variant_hashes)
from leakwatch.keys import with_position
from leakwatch.models import Document, Evidence, RosterRow
from leakwatch.normalise import deletions, digits
from leakwatch.protocols import Entry
from matchers.context import header_meaning
from matchers.names import name_records

LABEL = "num"
MIN_DIGITS = 5
MAX_DIGITS = 12

# A run of digits and digit look-alikes (O, l, I), single spaces, hyphens or dots between.
# Not "|": it separates the cells of table records. Whole runs only: not the head of a longer
# one ("2024-01" of "2024-01-26T17:58", once a staff member's 202401 on every log line) nor
# its tail, where a hyphen or a dot joins it to more digits.
# (The left edge is checked after the first character, by look-behinds over it: a pattern that
# starts with its character set is searched for in a C loop, a third faster on prose.)
_RUN = (r"[0-9OolIi](?<![\w].)(?<![0-9OolIi][\-.].)(?:[0-9OolIi]|[ \-.](?=[0-9OolIi])){3,24}"
        r"(?![\w])(?![\-.][0-9OolIi])")
_CANDIDATE = re.compile(_RUN)
_CANDIDATE_SPLIT = re.compile(f"({_RUN})")  # the runs kept between the text around them
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


# Within a candidate run (only 0-9, O, o, l, I, i, space, "-", "."): look-alikes read as digits, separators dropped.
_RUN_DIGITS = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "i": "1", " ": None, "-": None, ".": None})
_NOT_DIGITS = str.maketrans("", "", "0123456789")


def number_candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) for each identifier-like run; runs of groups also yield each group."""
    out = []
    for m in _CANDIDATE.finditer(text):
        _candidates_of(m.group(), m.start(), out)
    return out


def _candidates_of(raw: str, pos: int, out: list) -> None:
    if raw.isdigit():  # the common case: plain digits (the run holds ASCII characters only)
        if MIN_DIGITS <= len(raw) <= MAX_DIGITS:
            out.append((pos, pos + len(raw), raw))
        return
    if _DOTTED_QUAD.fullmatch(raw):  # an IPv4 address (or a four-part version), no identifier
        return
    ds = raw.translate(_RUN_DIGITS)
    real = len(raw) - len(raw.translate(_NOT_DIGITS))
    if real < 3 or real < 0.6 * len(ds):
        return
    if MIN_DIGITS <= len(ds) <= MAX_DIGITS:
        out.append((pos, pos + len(raw), ds))
    if " " in raw:  # "123456 654321": two numbers side by side as well as one
        for part in raw.split(" "):
            pd = part.translate(_RUN_DIGITS)
            if MIN_DIGITS <= len(pd) <= MAX_DIGITS and pd != ds:
                out.append((pos, pos + len(part), pd))
            pos += len(part) + 1


class Candidates(NamedTuple):
    """A document's identifier candidates, column by column, in document order."""

    record: list[int]
    start: list[int]  # character offsets into the record's text
    end: list[int]
    digits: list[str]


def document_candidates(records) -> Candidates:
    """Every candidate of a document, in order.

    One regex split of the records joined by newlines (no candidate crosses a newline):
    the runs and their offsets come out of C loops (split, len, accumulate, searchsorted),
    so a log of a million lines costs no Python statement per number. Only runs that are
    not plain digits ("12 34 56", "O1234l") are read one by one.
    """
    texts = [rec.text for rec in records]
    if not texts:
        return Candidates([], [], [], [])
    joined = "\n".join(texts)
    parts = _CANDIDATE_SPLIT.split(joined)
    runs = parts[1::2]
    if not runs:
        return Candidates([], [], [], [])
    ends = list(accumulate(map(len, parts)))
    starts = np.array(ends[0::2][:len(runs)], dtype=np.int64)
    rec_starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))[:-1] + 1, out=rec_starts[1:])
    rec = np.searchsorted(rec_starts, starts, side="right") - 1
    offset = starts - rec_starts[rec]
    lengths = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
    plain = np.fromiter(map(str.isdigit, runs), dtype=bool, count=len(runs))
    idx = np.flatnonzero(plain & (lengths >= MIN_DIGITS) & (lengths <= MAX_DIGITS))
    digits_of = [runs[i] for i in idx.tolist()]
    odd = np.flatnonzero(~plain)
    if odd.size:
        # Runs with separators or look-alikes yield their own candidates (dotted quads none).
        odd_runs = [runs[i] for i in odd.tolist()]
        quad = np.fromiter(map(bool, map(_DOTTED_QUAD.fullmatch, odd_runs)), dtype=bool, count=len(odd_runs))
        extra_run: list[int] = []
        extra_a: list[int] = []
        extra_b: list[int] = []
        found: list[tuple[int, int, str]] = []
        for i, raw, at in zip(odd[~quad].tolist(), compress(odd_runs, ~quad), offset[odd[~quad]].tolist()):
            found.clear()
            _candidates_of(raw, at, found)
            for a, b, ds in found:
                extra_run.append(i)
                extra_a.append(a)
                extra_b.append(b)
                digits_of.append(ds)
        if extra_run:  # in document order among the plain ones (a run's own candidates in their order)
            run = np.concatenate((idx, np.array(extra_run, dtype=np.int64)))
            order = np.argsort(run, kind="stable")
            a = np.concatenate((offset[idx], np.array(extra_a, dtype=np.int64)))[order]
            b = np.concatenate((offset[idx] + lengths[idx], np.array(extra_b, dtype=np.int64)))[order]
            return Candidates(rec[run[order]].tolist(), a.tolist(), b.tolist(), [digits_of[j] for j in order.tolist()])
    return Candidates(rec[idx].tolist(), offset[idx].tolist(), (offset[idx] + lengths[idx]).tolist(), digits_of)


def mask_number(ds: str) -> str:
    return ds[:2] + "*" * (len(ds) - 2)


class IdentifierMatcher:
    """Pay and warrant numbers: formatting, look-alike digits, one edit."""

    name: ClassVar[str] = "identifiers"

    def entries(self, row: RosterRow, ctx: MatchContext) -> list[Entry]:
        out: list[Entry] = []
        for fld, raw in ((F_PAY, row.pay_number), (F_WARRANT, row.warrant_number)):
            ds = digits(raw)
            if not ds:
                continue
            if len(ds) >= MIN_FUZZY_NUMBER:
                exact, dels = unique_variant_hashes(ctx.hasher, LABEL, ds)
            else:
                exact, dels = ctx.hasher.uncached(LABEL, ds), []
            out.extend((fld, kind, key) for kind, key in enrol_keys(exact, dels))
        return out

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        index = ctx.index
        if index is None:
            return []
        found = document_candidates(doc.records)
        if not found.digits:
            return []
        stated = stated_identifiers(doc, found.record)
        # Exact: one keyed hash per distinct number, one batched look-up for the document.
        # A number of a length no staff number has is nobody's: not hashed.
        lengths = ctx.identifier_lengths
        distinct = [ds for ds in set(found.digits) if lengths is None or len(ds) in lengths]
        hashes = ctx.hasher.tokens(LABEL, distinct)
        exact_hits: dict[str, list[tuple[int, int]]] = {}  # digits -> (staff, field) of EXACT entries
        for q, staff, fld, _ in index.lookup_many(hashes, (EXACT,)):
            if fld == F_PAY or fld == F_WARRANT:
                exact_hits.setdefault(distinct[q], []).append((staff, fld))
        # One edit on a number is corroboration only (engine.py): a staff member whose only
        # evidence in a record is a one-edit number is dropped. So the deletion neighbourhood
        # is looked up only where the name matcher found staff, in the record or (prose) a
        # few lines away, where the engine joins it to the name, and only the hits on those
        # staff are kept. Most numbers in logs and code have a staff number within one edit,
        # and a phone number beside a common name has several; this skips nearly all of them.
        near = _near_names(doc, ctx)
        one_edit: dict[str, list[tuple[int, int]]] = {}
        if near:
            fuzzy_ds = {ds for r, ds in zip(found.record, found.digits) if r in near and len(ds) >= MIN_FUZZY_NUMBER}
            if lengths is not None:  # one digit more, fewer or changed than some staff number
                fuzzy_ds = {ds for ds in fuzzy_ds if len(ds) in lengths or len(ds) - 1 in lengths
                            or len(ds) + 1 in lengths}
            if fuzzy_ds:
                one_edit = _one_edit_hits(sorted(fuzzy_ds), index, ctx.hasher, dict(zip(distinct, hashes)))
        if not exact_hits and not one_edit:
            return stated
        per_record = Counter(found.record)  # numbers in each record: chances of a coincidence
        out = stated
        hit = exact_hits.keys() | one_edit.keys()
        records, starts, ends, numbers = found
        for c in compress(range(len(numbers)), map(hit.__contains__, numbers)):
            r, ds = records[c], numbers[c]
            exact = exact_hits.get(ds)
            fuzzy = one_edit.get(ds) if r in near else None
            if fuzzy is not None:  # corroboration of those staff only (engine.py drops the rest)
                named = near[r]
                fuzzy = [h for h in fuzzy if h[0] in named]
            if not exact and not fuzzy:
                continue
            k = per_record[r]
            start, end = starts[c], ends[c]
            seen: set[tuple[int, int]] = set()
            for staff, fld in exact or ():
                if (staff, fld) not in seen:
                    seen.add((staff, fld))
                    out.append(_evidence(r, start, end, ds, k, staff, fld, False))
            for staff, fld in fuzzy or ():
                if (staff, fld) not in seen:
                    seen.add((staff, fld))
                    out.append(_evidence(r, start, end, ds, k, staff, fld, True))
        return out


_COLUMN_KINDS = {"pay number": "pay_number", "warrant number": "warrant_number"}


def stated_identifiers(doc: Document, with_numbers: Iterable[int]) -> list[Evidence]:
    """Table records whose pay or warrant number column holds a number: evidence about no one
    (`staff` None), which tells the engine the record states that identifier, so a staff member
    matched by name there whose own number is not the one stated is less likely its subject."""
    out: list[Evidence] = []
    columns: dict[tuple, list[tuple[int, str]]] = {}
    records = doc.records
    for r in sorted(set(with_numbers)):
        rec = records[r]
        if rec.headers is None or not rec.cells:
            continue
        cols = columns.get(rec.headers)
        if cols is None:
            cols = columns[rec.headers] = [(c, _COLUMN_KINDS[m]) for c, h in enumerate(rec.headers)
                                           if (m := header_meaning(h)) in _COLUMN_KINDS]
        for c, kind in cols:
            if c < len(rec.cells) and number_candidates(rec.cells[c]):
                out.append(Evidence(kind="stated_identifier", record=r, span=(0, 0), detail=kind))
    return out


def _evidence(r: int, start: int, end: int, ds: str, k: int, staff: int, fld: int, fuzzy: bool) -> Evidence:
    return Evidence(kind="pay_number" if fld == F_PAY else "warrant_number", record=r, span=(start, end),
                    staff=staff, log_lr=number_strength(len(ds), fuzzy, k), fuzzy=fuzzy, snippet=mask_number(ds))


def _near_names(doc: Document, ctx: MatchContext) -> dict[int, set[int]]:
    """Records where a one-edit number could stand beside a staff name the engine will see, with
    the staff so named: a record with a name match, and prose lines within `NEARBY_LINES` of a
    prose line with one."""
    named = name_records(doc, ctx)
    if not named:
        return {}
    records = doc.records
    n = len(records)
    out: dict[int, set[int]] = {}
    for r, staff in named.items():
        if records[r].table is not None:
            out.setdefault(r, set()).update(staff)
            continue
        for q in range(max(0, r - NEARBY_LINES), min(n, r + NEARBY_LINES + 1)):
            if q == r or records[q].table is None:
                out.setdefault(q, set()).update(staff)
    return out


def _one_edit_hits(numbers: list[str], index, hasher, hash_of: dict[str, int]) -> dict[str, list[tuple[int, int]]]:
    """(staff, field) within one edit of each number: the number against DEL entries (a lost digit),
    each deletion against EXACT entries (an added digit), each positioned deletion against SUB
    entries (a changed digit). All deletions of all numbers in one batched look-up."""
    out: dict[str, list[tuple[int, int]]] = {}
    missing = [ds for ds in numbers if ds not in hash_of]  # lengths the exact pass skipped
    hash_of = {**hash_of, **dict(zip(missing, hasher.tokens(LABEL, missing)))} if missing else hash_of
    for q, staff, fld, _ in index.lookup_many([hash_of[ds] for ds in numbers], (DEL,)):
        if fld == F_PAY or fld == F_WARRANT:
            out.setdefault(numbers[q], []).append((staff, fld))
    values: list[str] = []
    where: list[tuple[str, int]] = []  # per deletion: (number, position deleted)
    for ds in numbers:
        for i, d in deletions(ds):
            values.append(d)
            where.append((ds, i))
    hashed = hasher.tokens(LABEL, values)
    keys: list[int] = []
    for hd, (_, i) in zip(hashed, where):
        keys.append(hd)  # against EXACT entries
        keys.append(with_position(hd, i))  # against SUB entries
    for q, staff, fld, kind in index.lookup_many(keys):
        if kind == (SUB if q % 2 else EXACT) and (fld == F_PAY or fld == F_WARRANT):
            out.setdefault(where[q // 2][0], []).append((staff, fld))
    return out


@lru_cache(maxsize=4096)
def number_strength(n_digits: int, fuzzy: bool, candidates: int = 1) -> float:
    """log10 of P(this number | the record is that staff member's) / P(this number | a stranger's).

    A stranger's number is uniform over the 0.9 * 10^n numbers of its length; a staff
    record shows one of its IDENTIFIER_FIELDS numbers among the record's `candidates`
    numbers, so each extra field and each extra number in the record is one more
    chance of a coincidence. Within one edit, about 10*n substitutions, n deletions
    and 10*(n+1) insertions are hit by chance as well.
    """
    strength = math.log10(0.9 * 10**n_digits / (IDENTIFIER_FIELDS * max(1, candidates)))
    if fuzzy:
        strength -= math.log10(21 * n_digits + 10)
    return strength


IDENTIFIER_FIELDS = 2  # pay number, warrant number
