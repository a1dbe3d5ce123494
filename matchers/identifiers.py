"""Pay and warrant numbers, after format normalisation and within edit distance 1.

An exact number says "this record is that staff member's" with strength 10^digits
(the chance a stranger's record shows it); a fuzzy one is only corroboration: a
6-digit space holding 47,000 pay numbers has a neighbour of almost every number.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from operator import itemgetter
from collections.abc import Iterable
from typing import ClassVar

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
_CANDIDATE = re.compile(r"(?<![\w])(?<![0-9OolIi][\-.])[0-9OolIi](?:[0-9OolIi]|[ \-.](?=[0-9OolIi])){3,24}"
                        r"(?![\w])(?![\-.][0-9OolIi])")


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


def document_candidates(records) -> list[tuple[int, int, int, str]]:
    """(record, start, end, digits) for every candidate of a document, in order.

    One regex pass over the records joined by newlines (no candidate crosses a
    newline), instead of one per record.
    """
    texts = [rec.text for rec in records]
    joined = "\n".join(texts)
    starts = [0]
    for t in texts:
        starts.append(starts[-1] + len(t) + 1)
    out: list[tuple[int, int, int, str]] = []
    append = out.append
    found: list[tuple[int, int, str]] = []
    r, base, next_start = 0, 0, starts[1]
    for m in _CANDIDATE.finditer(joined):
        raw = m.group()
        pos = m.start()
        if pos >= next_start:
            r = bisect_right(starts, pos) - 1
            base, next_start = starts[r], starts[r + 1]
        if raw.isdigit():  # the common case, inline: plain digits
            if MIN_DIGITS <= len(raw) <= MAX_DIGITS:
                append((r, pos - base, pos - base + len(raw), raw))
            continue
        found.clear()
        _candidates_of(raw, pos - base, found)
        for a, b, ds in found:
            append((r, a, b, ds))
    return out


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
        if not found:
            return []
        stated = stated_identifiers(doc, {r for r, _, _, _ in found})
        # Exact: one keyed hash per distinct number, one batched look-up for the document.
        distinct = list(set(map(itemgetter(3), found)))
        exact_hits: dict[str, list[tuple[int, int]]] = {}  # digits -> (staff, field) of EXACT entries
        lost_hits: dict[str, list[tuple[int, int]]] = {}  # ... of DEL entries: the document lost a digit
        for q, staff, fld, kind in index.lookup_many(ctx.hasher.tokens(LABEL, distinct)):
            if (fld == F_PAY or fld == F_WARRANT) and (kind == EXACT or kind == DEL):
                (exact_hits if kind == EXACT else lost_hits).setdefault(distinct[q], []).append((staff, fld))
        # One edit on a number is corroboration only (engine.py): a staff member whose only
        # evidence in a record is a one-edit number is dropped. So the deletion neighbourhood
        # is looked up only where the name matcher found staff, in the record or (prose) a
        # few lines away, where the engine joins it to the name, and only the hits on those
        # staff are kept. Most numbers in logs and code have a staff number within one edit,
        # and a phone number beside a common name has several; this skips nearly all of them.
        near = _near_names(doc, ctx)
        one_edit: dict[str, list[tuple[int, int]]] = {}
        if near:
            fuzzy_ds = {c[3] for c in found if c[0] in near and len(c[3]) >= MIN_FUZZY_NUMBER}
            if fuzzy_ds:
                one_edit = _one_edit_hits(sorted(fuzzy_ds), index, ctx.hasher, lost_hits)
        if not exact_hits and not one_edit:
            return stated
        per_record = Counter(map(itemgetter(0), found))  # numbers in each record: chances of a coincidence
        out = stated
        for r, start, end, ds in found:
            exact = exact_hits.get(ds)
            fuzzy = one_edit.get(ds) if r in near else None
            if fuzzy is not None:  # corroboration of those staff only (engine.py drops the rest)
                named = near[r]
                fuzzy = [hit for hit in fuzzy if hit[0] in named]
            if exact is None and fuzzy is None:
                continue
            k = per_record[r]
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


def stated_identifiers(doc: Document, with_numbers: set[int]) -> list[Evidence]:
    """Table records whose pay or warrant number column holds a number: evidence about no one
    (`staff` None), which tells the engine the record states that identifier, so a staff member
    matched by name there whose own number is not the one stated is less likely its subject."""
    out: list[Evidence] = []
    columns: dict[tuple, list[tuple[int, str]]] = {}
    for r in sorted(with_numbers):
        rec = doc.records[r]
        if not rec.headers or not rec.cells:
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


def _one_edit_hits(numbers: list[str], index, hasher, lost_hits) -> dict[str, list[tuple[int, int]]]:
    """(staff, field) within one edit of each number: the number against DEL entries (a lost digit),
    each deletion against EXACT entries (an added digit), each positioned deletion against SUB
    entries (a changed digit). All deletions of all numbers in one batched look-up."""
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
    out: dict[str, list[tuple[int, int]]] = {ds: list(lost_hits[ds]) for ds in numbers if ds in lost_hits}
    for q, staff, fld, kind in index.lookup_many(keys):
        if kind == (SUB if q % 2 else EXACT) and (fld == F_PAY or fld == F_WARRANT):
            out.setdefault(where[q // 2][0], []).append((staff, fld))
    return out


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
