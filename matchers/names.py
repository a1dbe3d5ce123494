"""Staff names: forename and surname in either order, initials, nicknames, one typo.

Enrolment hashes (forename, surname) pairs, never a lone name, so the database
shows no per-person surname a frequency count could read. Matching hashes each
document token once (memoised), keeps the tokens that are some roster name
(an unlinked prefilter set), and looks up the pairs they form with their
neighbours. Strength is a likelihood ratio against how common the name is in
the population: a name many people share says little, a rare one a lot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import ClassVar

from leakwatch.index import (EXACT, NAME_LABEL, F_INITIAL, F_NAME, F_TOKEN, MIN_FUZZY_NAME, Field, Kind, MatchContext,
                             enrol_keys, pair_wrap, query_keys, variant_hashes)
from leakwatch.models import Document, Evidence, RosterRow
from leakwatch.normalise import fold, name_key, name_tokens
from leakwatch.protocols import Entry

LABEL = NAME_LABEL
PAIR = "pair"
INITIAL = "ini"
WINDOW = 3  # tokens either side of a name token searched for its other half
WHOLE_RECORD_TOKENS = 16  # records this short (table rows) pair every token with every other
# A one-edit match is scored on the name as written: its chance as a stranger's name
# (the population's, when it is a real name such as Antonio beside a staff Antonia; the
# floor when it is a misspelling), against the chance a staff member's name was
# mistyped into exactly this: about 1 in 10^4 (a typo in 1 of 20 names, spread over
# some 500 one-edit variants).
TYPO_FACTOR = 1e4

_TOKEN = re.compile(r"[^\W\d_]+(?:['’`´‘\-‐‑–][^\W\d_]+)*")
_JOINERS = str.maketrans("", "", "'’`´‘-‐‑–")


@lru_cache(maxsize=1)
def _nicknamer():
    from nicknames import NickNamer

    return NickNamer()


@lru_cache(maxsize=100_000)
def forename_variants(given: str) -> frozenset[str]:
    """The given name, its nicknames and (for a nickname) the names it is short for."""
    nn = _nicknamer()
    out = {given}
    for alt in nn.nicknames_of(given) | nn.canonicals_of(given):
        k = name_key(alt)
        if len(k) >= 2:
            out.add(k)
    return frozenset(out)


# Words that begin or join surnames but are no surname on their own.
PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "da", "das", "dos", "di", "du", "le", "la",
                       "el", "al", "bin", "ibn", "ben", "mac", "mc", "st", "ter", "ten", "y", "e", "o"})


def surname_forms(surname: str) -> list[str]:
    """The whole surname joined ("vanderberg"), and its last word when it has several."""
    toks = name_tokens(surname)
    if not toks:
        return []
    forms = ["".join(toks)]
    if len(toks) > 1 and len(toks[-1]) >= 2 and toks[-1] not in PARTICLES:
        forms.append(toks[-1])
    return forms


@lru_cache(maxsize=500_000)
def _token_key(raw: str) -> str:
    return fold(raw).translate(_JOINERS)


def _tokens(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, folded token, capitalised) for each word of the original text."""
    return [(m.start(), m.end(), _token_key(m.group()), m.group()[0].isupper()) for m in _TOKEN.finditer(text)]


# Two-letter words that are titles or ranks, not initials ("PC Smith" is not "P. C. Smith").
NOT_INITIALS = frozenset({"pc", "ps", "dc", "ds", "di", "dr", "mr", "ms", "st", "sg", "co", "hq", "uk", "to",
                          "of", "in", "on", "at", "is", "it", "an", "as", "by", "or", "no", "we", "he", "me",
                          "my", "up", "so", "do", "go", "be", "if"})


def _is_initial(tok: str, is_name: bool) -> bool:
    return len(tok) == 1 or (len(tok) == 2 and not is_name and tok not in NOT_INITIALS)


def _span(toks, i: int, j: int) -> tuple[int, int]:
    return min(toks[i][0], toks[j][0]), max(toks[i][1], toks[j][1])


def name_chance(pop, forename: str, surname: str) -> float:
    """Chance a stranger's name matches a staff member's through these two tokens.

    Enrolment entered each staff member under the given name and its nicknames, so a
    stranger matches through any name of the forename's nickname cluster ("Bell" is a
    rare forename, but William, Isabella and Bella all reach it); and forenames and
    surnames cluster by origin, so the population gives the pair's joint chance.
    """
    # The document is searched in both orders, so a stranger written either way matches.
    there = pop.pair(forename_variants(forename), surname)
    back = pop.pair(forename_variants(surname), forename)
    return min(1.0, there + back)


def _mask(*parts: str) -> str:
    return " ".join(p[:1].upper() + "*" * (len(p) - 1) for p in parts)


class NameMatcher:
    """Forename + surname (either order), `SURNAME, Forename`, `F. Surname`, `Surname F`, nicknames, one edit."""

    name: ClassVar[str] = "names"

    def entries(self, row: RosterRow, ctx: MatchContext) -> list[Entry]:
        h = ctx.hasher
        sns = surname_forms(row.surname)
        if not sns:
            return []
        fns = name_tokens(row.forenames)
        t = h.token
        given = fns[0] if fns else None
        # The given name and its nicknames only: a middle name would double the chance of a
        # coincidence for everyone who has one, and people are listed by their first name.
        forms = set(forename_variants(given)) if given else set()
        out: list[Entry] = [(F_TOKEN, EXACT, t(LABEL, s)) for s in sns]
        sn_hashes = [t(LABEL, s) for s in sns]
        for f in forms:
            tf = t(LABEL, f)
            out.append((F_TOKEN, EXACT, tf))
            out.extend((F_NAME, EXACT, h.pair(PAIR, tf, ts)) for ts in sn_hashes)
        sn = sns[0]
        sn_exact, sn_dels = variant_hashes(h, LABEL, sn, len(sn) >= MIN_FUZZY_NAME)
        if given:
            tg = t(LABEL, given)
            out.extend((F_NAME, kind, key) for kind, key in enrol_keys(sn_exact, sn_dels, pair_wrap(h, PAIR, first=tg)))
            g_exact, g_dels = variant_hashes(h, LABEL, given, len(given) >= MIN_FUZZY_NAME)
            out.extend((F_NAME, kind, key) for kind, key in enrol_keys(g_exact, g_dels, pair_wrap(h, PAIR, second=sn_exact)))
        for initial in {f[0] for f in fns[:2]}:
            ti = t(LABEL, initial)
            out.extend((F_INITIAL, EXACT, h.pair(INITIAL, ti, ts)) for ts in sn_hashes)
        return out

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        index = ctx.index
        if index is None:
            return
        h = ctx.hasher
        names = index.name_tokens
        pop = ctx.population
        exact_kinds = frozenset({Kind.EXACT})
        for r, rec in enumerate(doc.records):
            if not ctx.may_hold_name(rec.text):
                continue
            toks = _tokens(rec.text)
            n = len(toks)
            if n < 2:
                continue
            th = [h.token(LABEL, tok[2]) for tok in toks]
            cand = [x in names for x in th]
            if not any(cand):
                continue
            initial = [_is_initial(tok[2], c) for tok, c in zip(toks, cand)]
            window = n if n <= WHOLE_RECORD_TOKENS else WINDOW
            found: dict[tuple[int, str], tuple] = {}  # (staff, kind) -> (strength, span, fuzzy, parts)
            # Every distinct pair looked up is one more chance of a coincidence: the
            # evidence is divided by how many were tried (where it is yielded, below).
            tried: dict[str, set] = {"name": set(), "initial_name": set(), "fuzzy_name": set()}
            for i in range(n):
                ti = toks[i][2]
                if not cand[i]:
                    continue
                for j in range(max(0, i - window), min(n, i + window + 1)):
                    if j == i:
                        continue
                    tj = toks[j][2]
                    span = _span(toks, i, j)
                    if initial[j]:
                        if abs(i - j) > 2:
                            continue
                        # An initial beside a surname: "J. Smith", "SMITH J", "Smith JA".
                        key = h.pair(INITIAL, h.token(LABEL, tj[0]), th[i])
                        tried["initial_name"].add((tj[0], ti))
                        hits = [x for x in index.lookup(key, exact_kinds) if x.field == Field.INITIAL]
                        if hits:
                            p = pop.initial_pair(tj[0], ti)
                            for hit in hits:
                                self._keep(found, r, hit.staff, "initial_name", span, p, False, (tj[0], ti))
                    elif cand[j] and ti != tj:  # a word twice (a cell and an address) is no name
                        # i as forename, j as surname (the loop over i tries the other order).
                        key = h.pair(PAIR, th[i], th[j])
                        tried["name"].add((ti, tj))
                        hits = [x for x in index.lookup(key, exact_kinds) if x.field == Field.NAME]
                        if hits:
                            p = name_chance(pop, ti, tj)
                            for hit in hits:
                                self._keep(found, r, hit.staff, "name", span, p, False, (ti, tj))
                    # One edit only on capitalised words: a lower-case word in prose is rarely a name,
                    # and trying every word beside a common forename is most of the cost.
                    if not toks[j][3] or len(tj) < MIN_FUZZY_NAME or abs(i - j) > 2:
                        continue
                    if not initial[j] and ti != tj:  # tj a typo of the other half (even a roster name itself)
                        self._fuzzy(found, tried, index, h, pop, r, span, th[i], ti, tj)
            for (staff, kind), (strength, span, fuzzy, parts) in found.items():
                chances = len(tried[("fuzzy_" if fuzzy else "") + kind])
                yield Evidence(kind=kind, record=r, span=span, staff=staff, fuzzy=fuzzy, snippet=_mask(*parts),
                               log_lr=strength - math.log10(max(1, chances)))

    def _fuzzy(self, found, tried, index, h, pop, r, span, hi, ti, tj) -> None:
        """Try tj as a one-edit variant of the other half of ti's pair."""
        tried["fuzzy_name"].update({(ti, tj), (tj, ti)})
        exact, dels = variant_hashes(h, LABEL, tj, True)
        as_surname = query_keys(exact, dels, pair_wrap(h, PAIR, first=hi))
        as_forename = query_keys(exact, dels, pair_wrap(h, PAIR, second=hi))
        for queries, fn, sn in ((as_surname, ti, tj), (as_forename, tj, ti)):
            hits = [x for x in index.lookup_all(queries) if x.field == Field.NAME and x.fuzzy]
            if not hits:
                continue
            p = name_chance(pop, fn, sn) * TYPO_FACTOR
            for hit in hits:
                self._keep(found, r, hit.staff, "name", span, p, True, (fn, sn))

    @staticmethod
    def _keep(found, r, staff, kind, span, p, fuzzy, parts) -> None:
        """Keep the strongest evidence per staff member and kind in this record."""
        strength = -math.log10(max(min(p, 1.0), 1e-15))
        key = (staff, kind)
        prev = found.get(key)
        if prev is None or prev[0] < strength:
            found[key] = (strength, span, fuzzy, parts)

