"""Context: public police vocabulary near the data (ranks, units, force names, headers).

rapidfuzz serves here because this vocabulary is public plaintext ("pay no",
"Det Sgt", "warrant"): it must never be pointed at roster values, which exist
only as keyed hashes. Context raises confidence and explains; it identifies no one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from typing import ClassVar

from rapidfuzz import fuzz, process

from leakwatch.index import RECORD_SEP, MatchContext
from leakwatch.models import Document, Evidence, RosterRow
from leakwatch.normalise import fold

# header vocabulary -> what it says about the table
HEADERS = {
    "pay": "pay number", "payroll": "pay number", "pay no": "pay number", "pay number": "pay number",
    "payroll number": "pay number", "payroll no": "pay number",
    "warrant no": "warrant number", "warrant number": "warrant number", "collar number": "warrant number",
    "collar no": "warrant number", "shoulder number": "warrant number", "collar": "warrant number",
    "warrant": "warrant number", "vetting": "vetting", "vetting level": "vetting", "clearance": "vetting",
    "rank": "rank", "grade": "rank", "unit": "unit", "department": "unit", "command": "unit", "station": "unit",
    "borough": "unit", "surname": "name", "forename": "name", "forenames": "name", "first name": "name",
    "last name": "name", "initials": "name", "name": "name", "officer": "name", "staff id": "staff id",
    "employee number": "staff id", "home address": "address", "address": "address", "date of birth": "date of birth",
    "dob": "date of birth", "ni number": "national insurance", "mobile": "phone",
}
RANKS = {
    "pc", "dc", "ps", "ds", "sgt", "insp", "di", "dci", "supt", "dsupt", "csupt", "acc", "dcc", "pcso",
    "constable", "sergeant", "inspector", "superintendent", "commander", "commissioner",
    "detective", "chief", "special", "police", "officer", "staff",
}
LONG_RANKS = ("police constable", "detective constable", "police sergeant", "detective sergeant",
              "detective inspector", "chief inspector", "detective chief inspector", "superintendent",
              "chief superintendent", "police community support officer", "special constable")
UNIT_WORDS = ("counter terrorism", "special branch", "specialist protection", "professional standards",
              "territorial policing", "roads policing", "firearms", "public order", "custody", "forensics",
              "surveillance", "covert", "intelligence", "safer neighbourhoods", "response", "cid", "mit")
HEADER_CUTOFF = 85  # rapidfuzz ratio, 0-100
MAX_RECORDS = 5000  # context is read from the first records only

_WORD = re.compile(r"[a-z]+")


class ContextMatcher:
    """Police vocabulary: headers of tables, rank words, unit and force names."""

    name: ClassVar[str] = "context"

    def entries(self, row: RosterRow, ctx: MatchContext):
        return ()

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        seen_headers: set[tuple] = set()
        found: dict[str, Evidence] = {}
        records = doc.records[:MAX_RECORDS]
        for r, rec in enumerate(records):
            if rec.headers and rec.headers not in seen_headers:
                seen_headers.add(rec.headers)
                for head in rec.headers:
                    label = header_meaning(head)
                    if label and f"header: {label}" not in found:
                        found[f"header: {label}"] = Evidence(kind="context", record=r, span=(0, 0),
                                                             detail=f"header: {label}")
        texts = _folded_records([rec.text for rec in records])
        # Records joined by a separator no folded record holds: each search is one C loop, and a
        # match's record is the number of separators before it.
        joined = _SEP.join(texts)
        seps = [m.start() for m in _SEP_RE.finditer(joined)]
        vocab = {"force name": _alternation(tuple(fold(f) for f in ctx.force_names)),
                 "unit name": _alternation(tuple(fold(u) for u in ctx.sensitive_units) + UNIT_WORDS)}
        for name, pattern in vocab.items():
            m = pattern.search(joined) if pattern is not None else None
            if m is not None:
                found[name] = Evidence(kind="context", record=bisect_right(seps, m.start()), span=(0, 0), detail=name)
        with_ranks = {bisect_right(seps, m.start()) for m in _LONG_RANKS.finditer(joined)}
        with_ranks.update(bisect_right(seps, m.start()) for m in _RANK_WORD.finditer(joined))
        if with_ranks:
            found["rank words"] = Evidence(kind="context", record=0, span=(0, 0), detail="rank words",
                                           log_lr=float(len(with_ranks)))
        yield from found.values()


_SEP = RECORD_SEP
_SEP_RE = re.compile(_SEP)
# A rank word as a whole word of letters (what `_WORD` would find it as).
_RANK_WORD = re.compile("(?<![a-z])(?:" + "|".join(sorted(RANKS, key=len, reverse=True)) + ")(?![a-z])")


def _folded_records(texts: list[str]) -> list[str]:
    """Each text folded, the separator taken out of any that holds it (one `fold` call for all)."""
    if any(_SEP in t for t in texts):
        texts = [t.replace(_SEP, " ") for t in texts]
    folded = fold(_SEP.join(texts)).split(_SEP)
    if len(folded) != len(texts):  # folding made or ate a separator: fold one by one
        folded = [fold(t).replace(_SEP, " ") for t in texts]
    return folded


_LONG_RANKS = re.compile("|".join(map(re.escape, LONG_RANKS)))


@lru_cache(maxsize=64)
def _alternation(words: tuple[str, ...]) -> re.Pattern | None:
    return re.compile("|".join(map(re.escape, words))) if words else None


def header_meaning(header: str) -> str | None:
    """What a column header says, matched fuzzily ("Pay No.", "PAYROLL_NUMBER", "Colar No")."""
    h = " ".join(_WORD.findall(fold(header).replace("_", " ")))
    if not h or len(h) > 40:
        return None
    if h in HEADERS:
        return HEADERS[h]
    best = process.extractOne(h, HEADERS.keys(), scorer=fuzz.ratio, score_cutoff=HEADER_CUTOFF)
    return HEADERS[best[0]] if best else None
