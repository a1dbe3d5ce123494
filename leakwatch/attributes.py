"""Rank and unit: the roster's non-identifying attributes, used to tell namesakes apart.

A row "SMITH | J | PC | Emergency Response" fits every J. Smith on the roster; the
row's rank and unit say which of them it most likely is. For each candidate the
engine multiplies its share of the record by a factor per attribute the record
states: 1 / (the attribute value's share of the roster) when the record shows the
candidate's value, `MISMATCH` when the record shows another candidate's value but
not this one's. These are likelihood ratios between namesakes only: they decide
*who* a record is about, never *whether* it is about our staff (the document score
does not use them, so a stranger's list with the same rank vocabulary scores as
before). Ranks and units are public vocabulary, held in plaintext beside each ref.
"""

from __future__ import annotations

import re
from collections import Counter

from leakwatch.normalise import fold

# Canonical rank -> spellings (folded, words separated by single spaces). Longest first when matching.
RANK_SPELLINGS: dict[str, tuple[str, ...]] = {
    "pc": ("pc", "police constable", "constable", "pc.", "p c"),
    "dc": ("dc", "detective constable", "det con", "det constable", "tdc", "trainee detective constable"),
    "ps": ("ps", "sgt", "sergeant", "police sergeant", "pol sgt"),
    "ds": ("ds", "det sgt", "detective sergeant"),
    "insp": ("insp", "inspector", "police inspector"),
    "di": ("di", "det insp", "detective inspector"),
    "chinsp": ("ch insp", "chief inspector", "ci", "chief insp"),
    "dci": ("dci", "detective chief inspector", "det ch insp"),
    "supt": ("supt", "superintendent", "supt."),
    "dsupt": ("det supt", "detective superintendent", "dsupt"),
    "chsupt": ("ch supt", "chief superintendent", "csupt", "chief supt"),
    "pcso": ("pcso", "police community support officer"),
    "special": ("special constable", "spc"),  # not "SC": that is a vetting level
}
_CANONICAL = {spelling: canon for canon, spellings in RANK_SPELLINGS.items() for spelling in spellings}
_SPACES = re.compile(r"[\s._\-/]+")
_RANK_IN_TEXT = re.compile(
    r"(?<![a-z0-9])(" + "|".join(re.escape(s).replace(r"\ ", r"[\s._\-]+")
                                  for s in sorted(_CANONICAL, key=len, reverse=True)) + r")(?![a-z0-9])")

MISMATCH = 0.05  # a namesake whose rank (or unit) differs from the one the record states: records go stale
MIN_UNIT = 3  # letters: shorter unit values are too ambiguous to look for in text


def _squash(text: str) -> str:
    return _SPACES.sub(" ", fold(text)).strip()


def canonical_rank(value: str | None) -> str | None:
    """"Police Constable", "PC", "pc." -> "pc"; a grade not in the vocabulary is kept folded ("band d")."""
    if not value:
        return None
    s = _squash(value)
    return _CANONICAL.get(s, s) or None


class RosterAttributes:
    """Shares of each rank and unit on the roster, and the look-up of a record's agreement."""

    def __init__(self, ranks: list[str | None], units: list[str | None]):
        # A handful of distinct values among many staff: each is worked out once.
        rank_of = {v: canonical_rank(v) for v in set(ranks)}
        unit_of = {v: _unit_key(v) for v in set(units)}
        self.rank = [rank_of[r] for r in ranks]
        self.unit = [unit_of[u] for u in units]
        n = max(1, len(ranks))
        self.rank_share = {k: c / n for k, c in Counter(r for r in self.rank if r).items()}
        self.unit_share = {k: c / n for k, c in Counter(u for u in self.unit if u).items()}
        self._acronym = {u: _acronym(u) for u in self.unit_share}

    def factors(self, text: str, candidates: list[int]) -> dict[int, float]:
        """Per candidate staff member, the factor its share of the record is multiplied by.

        Only attributes on which the candidates differ and which the record states
        count; with nothing to tell them apart every factor is 1.
        """
        out = {s: 1.0 for s in candidates}
        if len(candidates) < 2:
            return out
        folded = _squash(text)
        ranks = {self.rank[s] for s in candidates} - {None}
        if ranks:
            stated = _ranks_in(folded)
            shown = {r for r in ranks if r in stated or _contains(folded, r)}
            if shown or stated:
                for s in candidates:
                    r = self.rank[s]
                    if r is not None:  # no rank on the roster: nothing to compare
                        out[s] *= (1.0 / self.rank_share[r]) if r in shown else MISMATCH
        units = {self.unit[s] for s in candidates} - {None}
        if units:
            shown = {u for u in units if self._unit_in(u, folded)}
            if shown:
                for s in candidates:
                    u = self.unit[s]
                    if u is not None:
                        out[s] *= (1.0 / self.unit_share[u]) if u in shown else MISMATCH
        return out

    def _unit_in(self, unit: str, folded: str) -> bool:
        if _contains(folded, unit):
            return True
        acr = self._acronym.get(unit)
        return bool(acr) and _contains(folded, acr)


def _unit_key(value: str | None) -> str | None:
    squashed = _squash(value) if value else ""
    return squashed if len(squashed) >= MIN_UNIT else None


def _ranks_in(folded: str) -> set[str]:
    found = set()
    for m in _RANK_IN_TEXT.finditer(folded):
        found.add(_CANONICAL[_squash(m.group(1))])
    return found


def _contains(folded: str, phrase: str) -> bool:
    i = folded.find(phrase)
    while i >= 0:
        end = i + len(phrase)
        if (i == 0 or not folded[i - 1].isalnum()) and (end == len(folded) or not folded[end].isalnum()):
            return True
        i = folded.find(phrase, i + 1)
    return False


def _acronym(unit: str) -> str | None:
    """"criminal investigation department" -> "cid" (three or more words only)."""
    words = [w for w in unit.split() if w not in {"of", "and", "the", "for", "&"}]
    return "".join(w[0] for w in words) if len(words) >= 3 else None


def roster_attributes(ctx) -> RosterAttributes | None:
    """The scan's `RosterAttributes`, built once from the loaded staff table."""
    if ctx.index is None:
        return None
    got = ctx.caches.get("attributes")
    if got is None:
        table = ctx.index.table
        got = ctx.caches["attributes"] = RosterAttributes(table.rank, table.unit)
    return got
