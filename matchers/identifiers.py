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

from leakwatch.index import (F_PAY, F_WARRANT, MIN_FUZZY_NUMBER, Field, MatchContext, enrol_keys, query_keys,
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


def number_candidates(text: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, digits) for each identifier-like run; runs of groups also yield each group."""
    for m in _CANDIDATE.finditer(text):
        raw = m.group()
        real = len(_REAL_DIGIT.findall(raw))
        if real < 3 or real < 0.6 * sum(c.isalnum() for c in raw):
            continue
        ds = digits(raw)
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
        for r, rec in enumerate(doc.records):
            text = rec.text
            if not any(ch.isdigit() for ch in text):
                continue
            for start, end, ds in number_candidates(text):
                exact, dels = variant_hashes(ctx.hasher, LABEL, ds, len(ds) >= MIN_FUZZY_NUMBER)
                for hit in index.lookup_all(query_keys(exact, dels)):
                    if hit.field not in (Field.PAY, Field.WARRANT):
                        continue
                    kind = "pay_number" if hit.field == Field.PAY else "warrant_number"
                    yield Evidence(
                        kind=kind, record=r, span=(start, end), staff=hit.staff,
                        log_lr=number_strength(len(ds), hit.fuzzy),
                        fuzzy=hit.fuzzy, snippet=mask_number(ds),
                    )


def number_strength(n_digits: int, fuzzy: bool) -> float:
    """log10 of 1 / P(a stranger's number equals this one), or is within one edit of it."""
    exact = float(n_digits)
    if not fuzzy:
        return exact
    # About 10*n substitutions, n deletions and 10*(n+1) insertions lie within one edit.
    return exact - math.log10(21 * n_digits + 10)
