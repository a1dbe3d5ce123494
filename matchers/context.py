"""Context: public police vocabulary near the data (ranks, units, force names, headers).

rapidfuzz serves here because this vocabulary is public plaintext ("pay no",
"Det Sgt", "warrant"): it must never be pointed at roster values, which exist
only as keyed hashes. Context raises confidence and explains; it identifies no one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import ClassVar

from rapidfuzz import fuzz, process

from leakwatch.index import MatchContext
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
        vocab = {"force name": _alternation(tuple(fold(f) for f in ctx.force_names)),
                 "unit name": _alternation(tuple(fold(u) for u in ctx.sensitive_units) + UNIT_WORDS)}
        rank_hits = 0
        for r, rec in enumerate(doc.records[:MAX_RECORDS]):
            if rec.headers and rec.headers not in seen_headers:
                seen_headers.add(rec.headers)
                for head in rec.headers:
                    label = header_meaning(head)
                    if label and f"header: {label}" not in found:
                        found[f"header: {label}"] = Evidence(kind="context", record=r, span=(0, 0),
                                                             detail=f"header: {label}")
            text = fold(rec.text)
            words = _WORD.findall(text)
            if not RANKS.isdisjoint(words) or _LONG_RANKS.search(text):
                rank_hits += 1
            for name, pattern in vocab.items():
                if name not in found and pattern is not None and pattern.search(text):
                    found[name] = Evidence(kind="context", record=r, span=(0, 0), detail=name)
        if rank_hits:
            found["rank words"] = Evidence(kind="context", record=0, span=(0, 0), detail="rank words",
                                           log_lr=float(rank_hits))
        yield from found.values()


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
