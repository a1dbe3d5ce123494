"""Pay and warrant numbers, after format normalisation and within edit distance 1.

An exact number says "this record is that staff member's" with strength 10^digits
(the chance a stranger's record shows it); a fuzzy one is only corroboration: a
6-digit space holding 47,000 pay numbers has a neighbour of almost every number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import ClassVar

from leakwatch.index import (F_PAY, F_WARRANT, MIN_FUZZY_NUMBER, Field, Kind, MatchContext, enrol_keys, query_keys,
                             unique_variant_hashes, variant_hashes)
from leakwatch.models import Document, Evidence, RosterRow
from leakwatch.normalise import digits
from leakwatch.protocols import Entry

LABEL = "num"
MIN_DIGITS = 5
MAX_DIGITS = 12

# A run of digits and digit look-alikes (O, l, I), single spaces, hyphens or dots between.
# Not "|": it separates the cells of table records.
_CANDIDATE = re.compile(r"(?<![\w])[0-9OolIi](?:[0-9OolIi]|[ \-.](?=[0-9OolIi])){3,24}(?![\w])")
_REAL_DIGIT = re.compile(r"\d")
_NOT_REAL_DIGIT = re.compile(r"[^0-9]+")


def number_candidates(text: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, digits) for each identifier-like run; runs of groups also yield each group."""
    for m in _CANDIDATE.finditer(text):
        raw = m.group()
        ds = digits(raw)
        real = len(_NOT_REAL_DIGIT.sub("", raw))
        if real < 3 or real < 0.6 * len(ds):
            continue
        if MIN_DIGITS <= len(ds) <= MAX_DIGITS:
            yield m.start(), m.end(), ds
        if " " in raw:  # "123456 654321": two numbers side by side as well as one
            pos = m.start()
            for part in raw.split(" "):
                pd = digits(part)
                if MIN_DIGITS <= len(pd) <= MAX_DIGITS and pd != ds:
                    yield pos, pos + len(part), pd
                pos += len(part) + 1


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
            return
        exact_only = frozenset({Kind.EXACT})
        for r, rec in enumerate(doc.records):
            text = rec.text
            if not _REAL_DIGIT.search(text):
                continue
            candidates = list(number_candidates(text))
            if not candidates:
                continue
            # One edit on a number is corroboration only (engine.py): worth looking up
            # only where a name might stand beside it. Most numbers in logs and code
            # have a staff number within one edit, so this saves most of the work.
            fuzzy_ok = ctx.may_hold_name(text)
            for start, end, ds in candidates:
                if fuzzy_ok and len(ds) >= MIN_FUZZY_NUMBER:
                    hits = index.lookup_all(query_keys(*variant_hashes(ctx.hasher, LABEL, ds, True)))
                else:
                    hits = index.lookup(ctx.hasher.token(LABEL, ds), exact_only)
                for hit in hits:
                    if hit.field not in (Field.PAY, Field.WARRANT):
                        continue
                    kind = "pay_number" if hit.field == Field.PAY else "warrant_number"
                    yield Evidence(
                        kind=kind, record=r, span=(start, end), staff=hit.staff,
                        log_lr=number_strength(len(ds), hit.fuzzy, len(candidates)),
                        fuzzy=hit.fuzzy, snippet=mask_number(ds),
                    )


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
