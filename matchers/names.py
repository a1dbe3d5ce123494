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
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from operator import attrgetter
from typing import ClassVar

from leakwatch.index import (DEL, EXACT, NAME_LABEL, F_INITIAL, F_NAME, F_TOKEN, MIN_FUZZY_NAME, SUB, MatchContext,
                             enrol_keys, pair_wrap, record_word_spans, record_words, variant_hashes)
from leakwatch.keys import with_position
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


@lru_cache(maxsize=4096)
def _glued(word: str) -> re.Pattern:
    """Finds the word glued to a digit somewhere in a text (then each place it stands is checked)."""
    w = re.escape(word)
    return re.compile(rf"(?<![^\W\d_]){w}\d|\d{w}(?![^\W\d_])")

# Two-letter words that are titles or ranks, not initials ("PC Smith" is not "P. C. Smith").
NOT_INITIALS = frozenset({"pc", "ps", "dc", "ds", "di", "dr", "mr", "ms", "st", "sg", "co", "hq", "uk", "to",
                          "of", "in", "on", "at", "is", "it", "an", "as", "by", "or", "no", "we", "he", "me",
                          "my", "up", "so", "do", "go", "be", "if"})


def _is_initial(tok: str, is_name: bool, written: str) -> bool:
    # "a" and "i" in lower case are the English words; as initials they are written in capitals.
    return (len(tok) == 1 and written not in ("a", "i")) or (len(tok) == 2 and not is_name and tok not in NOT_INITIALS)


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
        if given and sn_dels:
            # A misspelt surname beside the given name's initial ("Simth J"): the surname's
            # deletion neighbourhood under that initial (its EXACT key is the entry above).
            ti = t(LABEL, given[0])
            out.extend((F_INITIAL, kind, key)
                       for kind, key in enrol_keys(sn_exact, sn_dels, pair_wrap(h, INITIAL, first=ti))[1:])
        return out

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        return list(name_evidence(doc, ctx))


# --------------------------------------------------------------------------- matching

BATCH_KEYS = 50_000  # look-up keys gathered (from whole records) before one batched index look-up
RESULT_CACHE = 500_000  # pair look-ups remembered across documents (their hits, not their text)

# Kinds of pair look-up: what the keys of a group mean and which entries count as a hit.
_EXACT_PAIR, _INITIAL_PAIR, _FUZZY_AS_SURNAME, _FUZZY_AS_FORENAME, _FUZZY_INITIAL = range(5)
# A surname one edit from a staff surname beside an initial is looked for only in documents
# that already show this many records of staff by exact surname and initial (a surname +
# initial list of ours, re-posted with typos); elsewhere it would cost much and find chance.
INITIAL_LIST_ROWS = 5
INITIAL_LIST_SHARE = 0.05  # ... and this share of its records (not a few chance rows in a long text)
LONG_LIST_ROWS = 50  # a table this long is a list: see _Matching.run


def name_evidence(doc: Document, ctx: MatchContext) -> list[Evidence]:
    """The name matcher's evidence for a document, computed once per document.

    Shared through `MatchContext.per_document`: the identifiers matcher asks which
    records hold staff names (one-edit numbers are looked up only there) without
    matching the names a second time.
    """
    memo = ctx.per_document(doc)
    got = memo.get("names")
    if got is None:
        got = memo["names"] = _Matching(doc, ctx).run()
    return got


def name_records(doc: Document, ctx: MatchContext) -> dict[int, set[int]]:
    """Record -> the staff the name matcher found in it (by name or initial and surname)."""
    memo = ctx.per_document(doc)
    got = memo.get("name_records")
    if got is None:
        got = {}
        for ev in name_evidence(doc, ctx):
            got.setdefault(ev.record, set()).add(ev.staff)
        memo["name_records"] = got
    return got


class _Matching:
    """One document's name matching: pairs gathered per record, looked up in batches.

    The order in which pairs are tried, and so which of two equally strong matches
    is kept, is that of a plain loop over records, tokens and neighbours.
    """

    def __init__(self, doc: Document, ctx: MatchContext):
        self.doc = doc
        self.ctx = ctx
        self.index = ctx.index
        self.h = ctx.hasher
        self.pop = ctx.population
        self.out: list[Evidence] = []
        state = _state(ctx)
        self.words = state["words"]
        self.results = state["results"]
        self.chances = state["chances"]
        self.shapes = state["shapes"]

    def run(self) -> list[Evidence]:
        if self.index is None:
            return self.out
        gated = self.ctx.name_word_records(self.doc)
        if not gated:
            return self.out
        pending: list = []  # (record, toks, groups, shape) awaiting the batched look-up
        inputs: tuple[list, list] = ([], [])  # pairs of token hashes to hash under PAIR, under INITIAL
        shapes = self.shapes
        if len(shapes) >= RESULT_CACHE:
            shapes.clear()
        reused = False
        records = self.doc.records
        # A typo that makes one roster name into another ("Maria" for "Mario") is looked for
        # in prose and short tables; in a long list it costs half the matching and changes
        # little: the rest of the list is found (docs/evidence-model.md).
        sizes = Counter(rec.table for rec in records if rec.table is not None)
        long_tables = {t for t, n in sizes.items() if n >= LONG_LIST_ROWS}
        for r, (words, names) in gated.items():
            if len(words) < 2:
                continue
            rec = records[r]
            text = rec.text
            # In running text with capitals, a name is written with one: "will", "rose" and
            # "page" in lower case are words. (A line all in lower case, a table, or a line with
            # an e-mail address, whose names are in lower case by custom, is read as is.)
            lower_names = rec.cells is not None or text.islower() or "@" in text
            if not lower_names:
                names = [i for i in names if not words[i].islower()]
                if not names:
                    continue
            toks = self._tokens(words, names, text, lower_names)
            in_list = rec.table is not None and rec.table in long_tables
            # A record's evidence depends on its words alone (their positions aside): log lines
            # and code repeat the same words thousands of times, and are matched once.
            shape = (in_list, *toks)
            got = shapes.get(shape)
            if got is not None:
                if got:
                    self._emit(r, got)
                    reused = True
                continue
            groups = self._pairs(toks, names, inputs, in_list)
            if groups:
                pending.append((r, toks, groups, shape))
            else:
                shapes[shape] = ()
            if len(inputs[0]) + len(inputs[1]) >= BATCH_KEYS:
                self._flush(pending, inputs)
                pending, inputs = [], ([], [])
        self._flush(pending, inputs)
        if reused:  # in record order, as matched one by one
            self.out.sort(key=attrgetter("record"))
        self._misspelt_surnames()
        return self.out

    def _misspelt_surnames(self) -> None:
        """In a surname + initial list of ours, the short records still unmatched: a capitalised
        word of 5+ letters beside an initial, within one edit (or one swap of neighbouring
        letters) of a staff surname with that initial."""
        records = self.doc.records
        with_initials = {ev.record for ev in self.out if ev.kind == "initial_name"}
        if len(with_initials) < max(INITIAL_LIST_ROWS, INITIAL_LIST_SHARE * len(records)):
            return
        matched = {ev.record for ev in self.out}
        pending: list = []
        inputs: tuple[list, list] = ([], [])
        for r, rec in enumerate(records):
            if r in matched:
                continue
            words = record_words(rec.text)
            if not 2 <= len(words) <= WHOLE_RECORD_TOKENS:
                continue
            toks = self._tokens(words, [], rec.text)
            groups = self._fuzzy_initial_pairs(toks, inputs[1])
            if groups:
                pending.append((r, toks, groups, None))
            if len(inputs[1]) >= BATCH_KEYS:
                self._flush(pending, inputs)
                pending, inputs = [], ([], [])
        self._flush(pending, inputs)

    def _fuzzy_initial_pairs(self, toks: list, initials: list) -> list[list]:
        """Groups [kind, surname position, initial position, first input, inputs, rkey or hits]."""
        groups: list[list] = []
        results = self.results
        n = len(toks)
        for j, (tj, _, _, initial_j, _) in enumerate(toks):
            if not initial_j:
                continue
            letter = tj[0]
            th = None
            for i in range(max(0, j - 2), min(n, j + 3)):
                ti, _, _, initial_i, cap_i = toks[i]
                if i == j or initial_i or not cap_i or len(ti) < MIN_FUZZY_NAME:
                    continue
                rkey = (_FUZZY_INITIAL, letter, ti)
                got = results.get(rkey)
                if got is not None:
                    groups.append([_FUZZY_INITIAL, i, j, 0, 0, got])
                    continue
                exact, dels = variant_hashes(self.h, LABEL, ti, True)
                if th is None:
                    th = self.h.token(LABEL, letter)
                groups.append([_FUZZY_INITIAL, i, j, len(initials), 1 + len(dels), rkey])
                initials.append((th, exact))
                initials.extend([(th, d) for _, d in dels])
        return groups

    def _tokens(self, words: list[str], names: list[int], text: str, lower_names: bool = True) -> list[tuple | None]:
        """Per word as written: (folded, hash, is a roster name, reads as an initial, capitalised).

        In a long record only the words within reach of a roster name are worked out
        (the others are None): nothing is paired with them. One or two letters glued to a
        digit ("S2G 4JR", "x86", "B12") are part of a code (a postcode, a reference): no
        initial and no name. Without `lower_names`, a word in lower case is no name or initial either.
        """
        n = len(words)
        if n <= WHOLE_RECORD_TOKENS:
            wanted = range(n)
        else:
            near: set[int] = set()
            for i in names:
                near.update(range(max(0, i - WINDOW), min(n, i + WINDOW + 1)))
            wanted = sorted(near)
        cache = self.words
        out: list[tuple | None] = [None] * n
        spans = None
        for k in wanted:
            w = words[k]
            info = cache.get(w)
            if info is None:
                if len(cache) >= RESULT_CACHE:
                    cache.clear()
                tk = _token_key(w)
                th = self.h.token(LABEL, tk)
                is_name = th in self.index.name_tokens
                info = cache[w] = (tk, th, is_name, _is_initial(tk, is_name, w), w[0].isupper())
            if not lower_names and (info[2] or info[3]) and w.islower():
                info = (info[0], info[1], False, False, info[4])
            elif len(w) <= 2 and (info[2] or info[3]) and _glued(w).search(text):
                glued = True
                if words.count(w) > 1:  # which of its places is glued
                    spans = spans or record_word_spans(text)
                    a, b = spans[k]
                    glued = (a > 0 and text[a - 1].isdigit()) or (b < len(text) and text[b].isdigit())
                if glued:
                    info = (info[0], info[1], False, False, info[4])
            out[k] = info
        return out

    def _pairs(self, toks: list, names: list[int], inputs: tuple[list, list], in_list: bool = False) -> list[list]:
        """The pair look-ups of one record, in order: [kind, i, j, first input, inputs, resolved hits].

        Pairs are gathered unhashed (`inputs`) and hashed in one go at the flush; a
        pair looked up before (in this document or an earlier one) is resolved from
        the cache at once (no inputs). In a row of a long list (`in_list`), a word that
        is itself a roster name is not tried as a typo of another.
        """
        n = len(toks)
        h = self.h
        token = h.token
        pairs, initials = inputs
        results = self.results
        window = n if n <= WHOLE_RECORD_TOKENS else WINDOW
        groups: list[list] = []
        for i in names:
            ti, hi, cand_i = toks[i][0], toks[i][1], toks[i][2]
            if not cand_i:
                continue
            for j in range(max(0, i - window), min(n, i + window + 1)):
                if j == i:
                    continue
                tj, hj, cand_j, initial_j, cap_j = toks[j]
                near = abs(i - j) <= 2
                if initial_j:
                    if not near:
                        continue
                    # An initial beside a surname: "J. Smith", "SMITH J", "Smith JA".
                    rkey = (_INITIAL_PAIR, tj[0], hi)
                    got = results.get(rkey)
                    if got is not None:
                        groups.append([_INITIAL_PAIR, i, j, 0, 0, got])
                    else:
                        groups.append([_INITIAL_PAIR, i, j, len(initials), 1, rkey])
                        initials.append((token(LABEL, tj[0]), hi))
                    continue  # an initial is too short for one edit
                if cand_j and ti != tj:  # a word twice (a cell and an address) is no name
                    # i as forename, j as surname (the loop over i tries the other order).
                    rkey = (_EXACT_PAIR, hi, hj)
                    got = results.get(rkey)
                    if got is not None:
                        groups.append([_EXACT_PAIR, i, j, 0, 0, got])
                    else:
                        groups.append([_EXACT_PAIR, i, j, len(pairs), 1, rkey])
                        pairs.append((hi, hj))
                # One edit only on capitalised words: a lower-case word in prose is rarely a name,
                # and trying every word beside a common forename is most of the cost.
                if not cap_j or len(tj) < MIN_FUZZY_NAME or not near or ti == tj or (in_list and cand_j):
                    continue
                # tj a typo of the other half (even a roster name itself): as surname, then as forename.
                for kind in (_FUZZY_AS_SURNAME, _FUZZY_AS_FORENAME):
                    rkey = (kind, hi, tj)
                    got = results.get(rkey)
                    if got is not None:
                        groups.append([kind, i, j, 0, 0, got])
                        continue
                    exact, dels = variant_hashes(h, LABEL, tj, True)
                    groups.append([kind, i, j, len(pairs), 1 + len(dels), rkey])
                    # The value, then each deletion in order of position (see _flush).
                    if kind == _FUZZY_AS_SURNAME:
                        pairs.append((hi, exact))
                        pairs.extend([(hi, d) for _, d in dels])
                    else:
                        pairs.append((exact, hi))
                        pairs.extend([(d, hi) for _, d in dels])
        return groups

    def _flush(self, pending: list, inputs: tuple[list, list]) -> None:
        """Hash the gathered pairs, look all their keys up at once, resolve and score each record."""
        if not pending:
            return
        hashed = self.h.pairs(PAIR, inputs[0])
        hashed_initials = self.h.pairs(INITIAL, inputs[1])
        # Keys laid out per group: one for an exact or initial pair; for one edit, the value's
        # key, then per deletion its key (against EXACT entries) and its positioned key
        # (against SUB entries), as `query_keys` has them.
        keys: list[int] = []
        for _, _, groups, _ in pending:
            for g in groups:
                count = g[4]
                if not count:
                    continue
                start = g[3]
                g[3] = len(keys)
                if g[0] == _INITIAL_PAIR:
                    keys.append(hashed_initials[start])
                else:
                    swaps = g[0] == _FUZZY_INITIAL
                    source = hashed_initials if swaps else hashed
                    keys.append(source[start])
                    for k in range(1, count):
                        x = source[start + k]
                        keys.append(x)
                        keys.append(with_position(x, k - 1))
                        # Two neighbouring letters swapped: the roster deleted the next or the previous
                        # one (for the first letter, position -1 wraps to 63: no name is that long).
                        if swaps:
                            keys.append(with_position(x, k - 2))
                            keys.append(with_position(x, k))
                g[4] = len(keys)
        by_key: dict[int, list[tuple[int, int, int]]] = {}
        for q, staff, fld, kind in self.index.lookup_many(keys):
            by_key.setdefault(q, []).append((staff, fld, kind))
        results = self.results
        if len(results) >= RESULT_CACHE:
            results.clear()
        shapes = self.shapes
        for r, toks, groups, shape in pending:
            for g in groups:
                if g[4]:  # looked up now: resolve the hits and remember them
                    a, b = g[3], g[4]
                    if b - a == 1 and a not in by_key:  # the common case: one key, no hit
                        staff = ()
                    else:
                        staff = _resolve(g[0], a, b, by_key)
                    results[g[5]] = staff
                    g[5] = staff
            found = self._record(toks, groups)
            if shape is not None:
                shapes[shape] = found
            if found:
                self._emit(r, found)

    def _record(self, toks: list[tuple], groups: list[list]) -> tuple:
        """The record's evidence, as (kind, i, j, staff, fuzzy, snippet, log_lr) for words i and j:
        the strongest per staff member and kind, divided by the pairs tried."""
        found: dict[tuple[int, str], tuple] = {}  # (staff, kind) -> (strength, i, j, fuzzy, parts)
        tried_name: set = set()
        tried_initial: set = set()
        tried_fuzzy: set = set()
        tried_fuzzy_initial: set = set()
        pop = self.pop
        chances = self.chances
        if len(chances) >= RESULT_CACHE:
            chances.clear()
        for kind, i, j, _, _, staff in groups:
            ti, tj = toks[i][0], toks[j][0]
            if kind == _INITIAL_PAIR or kind == _FUZZY_INITIAL:
                fuzzy = kind == _FUZZY_INITIAL
                parts = (tj[0], ti)
                (tried_fuzzy_initial if fuzzy else tried_initial).add(parts)
                if not staff:
                    continue
                label = "initial_name"
                p = pop.initial_pair(tj[0], ti)
                if fuzzy:
                    p *= TYPO_FACTOR
            elif kind == _EXACT_PAIR:
                parts = (ti, tj)
                tried_name.add(parts)
                if not staff:
                    continue
                label, fuzzy = "name", False
                p = chances.get(parts)
                if p is None:
                    p = chances[parts] = name_chance(pop, ti, tj)
            else:
                if kind == _FUZZY_AS_SURNAME:
                    tried_fuzzy.add((ti, tj))
                    tried_fuzzy.add((tj, ti))
                    parts = (ti, tj)
                else:
                    parts = (tj, ti)
                if not staff:
                    continue
                label, fuzzy = "name", True
                p = chances.get(parts)
                if p is None:
                    p = chances[parts] = name_chance(pop, *parts)
                p *= TYPO_FACTOR
            # The strongest evidence per staff member and kind in this record is kept.
            strength = -math.log10(max(min(p, 1.0), 1e-15))
            kept = (strength, i, j, fuzzy, parts)
            for st in staff:
                prev = found.get((st, label))
                if prev is None or prev[0] < strength:
                    found[(st, label)] = kept
        if not found:
            return ()
        tried = {"name": tried_name, "initial_name": tried_initial, "fuzzy_name": tried_fuzzy,
                 "fuzzy_initial_name": tried_fuzzy_initial}
        masks: dict[tuple, str] = {}
        out = []
        for (staff, kind), (strength, i, j, fuzzy, parts) in found.items():
            tries = len(tried[("fuzzy_" if fuzzy else "") + kind])
            snippet = masks.get(parts)
            if snippet is None:
                snippet = masks[parts] = _mask(*parts)
            out.append((kind, i, j, staff, fuzzy, snippet, strength - math.log10(max(1, tries))))
        return tuple(out)

    def _emit(self, r: int, found: tuple) -> None:
        """Evidence in record r from `_record`'s findings, located in its text."""
        spans = record_word_spans(self.doc.records[r].text)
        append = self.out.append
        for kind, i, j, staff, fuzzy, snippet, log_lr in found:
            span = (min(spans[i][0], spans[j][0]), max(spans[i][1], spans[j][1]))
            append(Evidence(kind=kind, record=r, span=span, staff=staff, fuzzy=fuzzy, snippet=snippet, log_lr=log_lr))


def _resolve(kind: int, a: int, b: int, by_key: dict) -> tuple[int, ...]:
    """The staff a group's keys hit, as the group's kind counts hits (see `query_keys`)."""
    if kind == _INITIAL_PAIR:
        return tuple(s for s, f, k in by_key.get(a, ()) if f == F_INITIAL and k == EXACT)
    if kind == _EXACT_PAIR:
        return tuple(s for s, f, k in by_key.get(a, ()) if f == F_NAME and k == EXACT)
    # One edit: the value vs EXACT is an exact match (not reported here), vs DEL a lost letter;
    # each deletion vs EXACT an added letter; each positioned deletion vs SUB a changed letter.
    field = F_INITIAL if kind == _FUZZY_INITIAL else F_NAME
    exact: set[int] = set()
    fuzzy: dict[int, None] = {}
    for s, f, k in by_key.get(a, ()):
        if f == field:
            if k == EXACT:
                exact.add(s)
            elif k == DEL:
                fuzzy.setdefault(s)
    stride = 4 if kind == _FUZZY_INITIAL else 2  # keys per deletion (see _flush)
    for q in range(a + 1, b):
        want = EXACT if (q - a - 1) % stride == 0 else SUB
        for s, f, k in by_key.get(q, ()):
            if f == field and k == want:
                fuzzy.setdefault(s)
    return tuple(s for s in fuzzy if s not in exact)


def _state(ctx: MatchContext) -> dict:
    """This matcher's caches for the scan (document words, and the staff their pairs hit)."""
    state = ctx.caches.get("names")
    if state is None:
        state = ctx.caches["names"] = {"words": {}, "results": {}, "chances": {}, "shapes": {}}
    return state
