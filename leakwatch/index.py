"""The hashed roster in memory, and the context matchers work in.

`RosterIndex` is built from the database's keyed entries (never from plaintext):
a sorted int64 array of keys with the staff member, field and kind of each (14 bytes
an entry, about 100 entries a staff member with padding). Matchers look keys up in
batches (`lookup_many`: one sorted `searchsorted` per document or batch of records).
"""

from __future__ import annotations

import enum
import re
import threading
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, compress
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from leakwatch.keys import Hasher, with_position
from leakwatch.normalise import deletions, word_key

NAME_LABEL = "name"  # the hash label of name tokens (matchers/names.py enrols under it)
NAME_WORD_CACHE = 1_000_000  # distinct spellings remembered by MatchContext's name-word gate
_RAW_WORD = re.compile(r"[^\W\d_]+(?:['’`´‘\-‐‑–][^\W\d_]+)*")
_ASCII_WORD = re.compile(r"[A-Za-z]+(?:['`\-][A-Za-z]+)*")  # the same words in ASCII text, found faster


def record_words(text: str) -> list[str]:
    """The words of a record as written, as the name-word gate reads them."""
    return _ASCII_WORD.findall(text) if text.isascii() else _RAW_WORD.findall(text)


# Matchers that read a whole document in one pass join its records with a character no record
# holds (checked): the name-word gate matches it as a token of its own between their words.
RECORD_SEP = "\x1e"
_RAW_GATE = re.compile(f"{RECORD_SEP}|{_RAW_WORD.pattern}")
_ASCII_GATE = re.compile(f"{RECORD_SEP}|{_ASCII_WORD.pattern}")


# Letters and the joiners of names kept, every other byte a space (ASCII text).
_LETTERS_AND_JOINERS = bytes(b if chr(b).isascii() and (chr(b).isalpha() or chr(b) in "'`-") else 32
                             for b in range(256))
FEW_NAME_WORDS = 16  # a document with at most this many distinct name words is searched for them


@lru_cache(maxsize=1024)
def _literals(words: frozenset[str]) -> re.Pattern:
    """Finds any of the words anywhere (a superset of where they stand as words)."""
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))


def record_word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each of `record_words(text)`."""
    return [m.span() for m in _RAW_WORD.finditer(text)]


def _word_key(raw: str) -> str:
    return word_key(raw)  # as the name matcher folds a document word

# Bump when what matchers enrol, or how keys are hashed, changes: a roster enrolled under
# another scheme must be imported again (the scanner refuses it until then).
ENTRY_SCHEME = 3

MIN_FUZZY_NAME = 5  # letters: edit distance 1 on shorter names matches too much by chance
MIN_FUZZY_NUMBER = 5  # digits
# Prose lines: one person's evidence this close together is one record (the engine joins
# such lines), so evidence on one line can corroborate a value this many lines away.
NEARBY_LINES = 6


class Field(enum.IntEnum):
    """Which roster field an entry came from."""

    NAME = 1  # forename (or nickname) with surname
    INITIAL = 2  # initial with surname
    PAY = 3
    WARRANT = 4
    EMAIL = 5
    TOKEN = 6  # a name token, unlinked to anyone: stored in the prefilter set, not per staff


class Kind(enum.IntEnum):
    EXACT = 0
    DEL = 1  # one character deleted (the document has a deletion, or the roster value one more)
    SUB = 2  # one character deleted, position mixed in: a substitution


class Hit(NamedTuple):
    staff: int
    field: int  # a Field value
    kind: int  # a Kind value: of the entry that matched
    fuzzy: bool  # one edit apart (a deletion-based query, or a DEL/SUB entry)


def variant_hashes(hasher: Hasher, label: str, value: str, fuzzy: bool) -> tuple[int, list[tuple[int, int]]]:
    """The keyed hash of a value and, when fuzzy, of each one-deletion variant with its position.

    Memoised per value: names repeat across a roster and across documents.
    """
    if not fuzzy:
        return hasher.token(label, value), []
    cache = hasher.variant_cache
    got = cache.get((label, value))
    if got is None:
        if len(cache) >= hasher.CACHE_LIMIT // 8:
            cache.clear()
        token = hasher.token
        got = cache[(label, value)] = (token(label, value), [(i, token(label, d)) for i, d in deletions(value)])
    return got


def unique_variant_hashes(hasher: Hasher, label: str, value: str) -> tuple[int, list[tuple[int, int]]]:
    """`variant_hashes` for values that do not repeat (identifiers): nothing is cached."""
    h = hasher.uncached
    return h(label, value), [(i, h(label, d)) for i, d in deletions(value)]


# Plain ints of the enums, for the enrolment hot path (an IntEnum costs a call each time).
EXACT, DEL, SUB = int(Kind.EXACT), int(Kind.DEL), int(Kind.SUB)
F_NAME, F_INITIAL, F_PAY, F_WARRANT, F_EMAIL, F_TOKEN = (int(f) for f in Field)


def enrol_keys(exact: int, dels: list[tuple[int, int]], wrap=None) -> list[tuple[int, int]]:
    """Index entries for one value: exact, and deletion neighbourhood (DEL and positional SUB)."""
    w = wrap or (lambda k: k)
    out = [(EXACT, w(exact))]
    for i, d in dels:
        wd = w(d)
        out.append((DEL, wd))
        out.append((SUB, with_position(wd, i)))
    return out


def query_keys(exact: int, dels: list[tuple[int, int]], wrap=None) -> list[tuple[int, frozenset[Kind], bool]]:
    """Keys to look up for a document value, each with the entry kinds that make a hit.

    exact vs EXACT: equal; exact vs DEL: the document lost a character;
    a deletion vs EXACT: the document gained one; a positioned deletion vs SUB:
    one character differs. Together: Levenshtein distance <= 1.
    """
    w = wrap or (lambda k: k)
    out = [(w(exact), _EXACT_OR_DEL, False)]
    for i, d in dels:
        wd = w(d)
        out.append((wd, _EXACT_ONLY, True))
        out.append((with_position(wd, i), _SUB_ONLY, True))
    return out


_EXACT_OR_DEL = frozenset({Kind.EXACT, Kind.DEL})
_EXACT_ONLY = frozenset({Kind.EXACT})
_SUB_ONLY = frozenset({Kind.SUB})


def pair_wrap(hasher: Hasher, label: str, first: int | None = None, second: int | None = None):
    """Wrap for keys of a two-part value (forename+surname): fixes one part, varies the other."""
    pair = hasher.pair
    if first is not None:
        return lambda k: pair(label, first, k)
    return lambda k: pair(label, k, second)


@dataclass
class StaffTable:
    """What may be said about enrolled staff: refs and the non-identifying attributes."""

    refs: list[str]
    rank: list[str | None]
    unit: list[str | None]
    vetting: list[str | None]
    sensitive: list[bool]
    leaver: list[bool]

    def __len__(self) -> int:
        return len(self.refs)


class RosterIndex:
    """Sorted keyed-hash entries, looked up by key; answers "which staff, which field, exact or not"."""

    def __init__(self, keys: np.ndarray, staff: np.ndarray, fields: np.ndarray, kinds: np.ndarray,
                 name_tokens, table: StaffTable):
        """Arrays already in key order (`IndexBuilder.build` sorts them; a snapshot is stored sorted)."""
        self.keys, self.staff, self.fields, self.kinds = keys, staff, fields, kinds
        self.name_tokens = set(name_tokens)
        self.table = table
        self._has: dict[str, np.ndarray] = {}

    def has(self, kind: str, staff: int) -> bool:
        """Whether a staff member has a value of this identifier kind (pay_number, warrant_number) enrolled."""
        got = self._has.get(kind)
        if got is None:
            fld = {"pay_number": F_PAY, "warrant_number": F_WARRANT}[kind]
            got = np.zeros(self.roster_size, dtype=bool)
            got[self.staff[self.fields == fld]] = True
            self._has[kind] = got
        return bool(got[staff])

    @classmethod
    def from_blobs(cls, blobs, name_tokens, table: StaffTable) -> "RosterIndex":
        """blobs: (keys, tags) per staff member in table order, as enrolment packs them."""
        builder = IndexBuilder()
        builder.add(list(blobs))
        return builder.build(name_tokens, table)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def roster_size(self) -> int:
        return len(self.table)

    def lookup(self, key: int, kinds: frozenset[Kind] = frozenset(Kind), fuzzy_query: bool = False) -> list[Hit]:
        keys = self.keys
        lo = int(keys.searchsorted(key))
        if lo >= len(keys) or keys[lo] != key:
            return []
        hi = int(keys.searchsorted(key, "right"))
        out = []
        for staff, fld, kind in zip(self.staff[lo:hi].tolist(), self.fields[lo:hi].tolist(),
                                    self.kinds[lo:hi].tolist()):
            if kind in kinds:
                out.append(Hit(staff, fld, kind, fuzzy_query or kind != EXACT))
        return out

    def lookup_many(self, keys: list[int], kinds: tuple[int, ...] | None = None) -> list[tuple[int, int, int, int]]:
        """Every entry matching any of the keys: (position in `keys`, staff, field, kind), in the
        order of `keys` and, for one key, in index order; only entries of the given kinds when named.

        One numpy pass for a whole batch (a document's numbers, its name pairs): the
        queries are sorted first, which makes `searchsorted` walk the index in order
        (about fifteen times faster than probing it at random), and the matching entries
        are gathered and filtered in numpy too. Below a handful of keys the per-key
        `lookup` is cheaper.
        """
        n = len(keys)
        if n == 0:
            return []
        if n < SMALL_BATCH:
            out = []
            for q, key in enumerate(keys):
                out.extend((q, h.staff, h.field, h.kind) for h in self.lookup(key) if kinds is None or h.kind in kinds)
            return out
        q = np.fromiter(keys, dtype=np.int64, count=n)
        order = np.argsort(q, kind="stable")
        qs = q[order]
        lo = self.keys.searchsorted(qs)
        np.minimum(lo, len(self.keys) - 1, out=lo)
        found = np.flatnonzero(self.keys[lo] == qs)
        if not found.size:
            return []
        start = lo[found]
        counts = self.keys.searchsorted(qs[found], "right") - start
        # Each found key's run of entries, laid end to end: entry positions and their query.
        firsts = np.cumsum(counts) - counts
        entry = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(start - firsts, counts)
        query = np.repeat(order[found], counts)
        kind = self.kinds[entry]
        if kinds is not None:
            keep = np.isin(kind, kinds)
            entry, query, kind = entry[keep], query[keep], kind[keep]
        # Back in the order of `keys` (both sorts are stable: a key's entries stay in index order).
        back = np.argsort(query, kind="stable")
        entry, query, kind = entry[back], query[back], kind[back]
        return list(zip(query.tolist(), self.staff[entry].tolist(), self.fields[entry].tolist(), kind.tolist()))

    def lookup_all(self, queries: list[tuple[int, frozenset[Kind], bool]]) -> list[Hit]:
        """Hits for a value's query keys (see `query_keys`); an exact hit wins, one hit per staff and field."""
        seen: dict[tuple[int, Field], Hit] = {}
        for key, kinds, fuzzy in queries:
            for hit in self.lookup(key, kinds, fuzzy):
                prev = seen.get((hit.staff, hit.field))
                if prev is None or (prev.fuzzy and not hit.fuzzy):
                    seen[(hit.staff, hit.field)] = hit
        return list(seen.values())


class IndexBuilder:
    """Accumulates packed entries batch by batch, so a big roster never sits in memory twice."""

    def __init__(self):
        self._keys: list[np.ndarray] = []
        self._tags: list[np.ndarray] = []
        self._staff: list[np.ndarray] = []
        self.count = 0

    def add(self, blobs: list[tuple[bytes, bytes]]) -> None:
        """The next staff members' (keys, tags), in table order."""
        lengths = np.fromiter((len(t) for _, t in blobs), dtype=np.int64, count=len(blobs))
        self._keys.append(np.frombuffer(b"".join(k for k, _ in blobs), dtype=">i8").astype(np.int64))
        self._tags.append(np.frombuffer(b"".join(t for _, t in blobs), dtype=np.uint8).copy())
        self._staff.append(np.repeat(np.arange(self.count, self.count + len(blobs), dtype=np.int32), lengths))
        self.count += len(blobs)

    def build(self, name_tokens, table: "StaffTable") -> "RosterIndex":
        cat = (lambda xs, t: np.concatenate(xs) if xs else np.zeros(0, dtype=t))
        keys = cat(self._keys, np.int64)
        self._keys.clear()
        tags = cat(self._tags, np.uint8)
        self._tags.clear()
        staff = cat(self._staff, np.int32)
        self._staff.clear()
        # Sorted one array at a time, each unsorted one freed as soon as its sorted copy exists.
        order = _key_order(keys)
        keys = keys[order]
        staff = staff[order]
        tags = tags[order]
        del order
        return RosterIndex(keys, staff, (tags // 4).astype(np.int8), (tags % 4).astype(np.int8), name_tokens, table)


_CHUNK = 1 << 20  # entries per pass where a whole-array temporary would double memory
SMALL_BATCH = 8  # keys: below this, lookup_many probes key by key (numpy's fixed cost dominates)


def _key_order(keys: np.ndarray) -> np.ndarray:
    """The permutation that sorts the keys: what `np.argsort` gives, in about half its time.

    The keys are uniform 64-bit values, so each key's top bits with its position in
    the low bits form unique integers whose plain (SIMD) sort is much faster than an
    argsort. Keys that share those top bits (a handful in millions) are then put in
    order by a small argsort of their run.
    """
    n = len(keys)
    if n < 2:
        return np.arange(n)
    bits = int(n - 1).bit_length()
    low = np.uint64((1 << bits) - 1)
    # Besides the keys, one array of n words at a time: no whole-array temporaries.
    packed = keys.view(np.uint64) ^ np.uint64(1 << 63)  # signed order as unsigned
    packed &= ~low
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        packed[start:stop] |= np.arange(start, stop, dtype=np.uint64)
    packed.sort()
    packed &= low
    order = packed.view(np.int64)  # positions < 2^63: the same values as int64
    bad_parts = []
    for start in range(0, n - 1, _CHUNK):
        stop = min(n, start + _CHUNK + 1)
        ordered = keys[order[start:stop]]
        bad_parts.append(np.flatnonzero(ordered[1:] < ordered[:-1]) + start)
    bad = np.concatenate(bad_parts) if bad_parts else np.zeros(0, dtype=np.int64)
    # Keys that share the top bits but differ below them (a handful in millions) may be out
    # of order within their run of equal top bits: sort each such run by the full keys.
    for p in bad.tolist():
        a, b = p, p + 1
        top = keys[order[p]].view(np.uint64) >> np.uint64(bits)
        while a > 0 and keys[order[a - 1]].view(np.uint64) >> np.uint64(bits) == top:
            a -= 1
        while b + 1 < n and keys[order[b + 1]].view(np.uint64) >> np.uint64(bits) == top:
            b += 1
        run = order[a:b + 1]
        order[a:b + 1] = run[np.argsort(keys[run], kind="stable")]
    return order


@dataclass
class MatchContext:
    """Everything a matcher may use: the hasher, the hashed roster, public reference data, settings."""

    hasher: Hasher
    index: RosterIndex | None = None
    population: object | None = None  # leakwatch.population.Population
    force_domains: tuple[str, ...] = ()
    force_names: tuple[str, ...] = ()
    sensitive_units: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()  # the force's suppliers: public names, watched on leak-site trackers
    # Digit counts of the enrolled pay and warrant numbers; None: unknown (every length is looked up).
    identifier_lengths: frozenset[int] | None = None
    # Words as written that are (or are not) a roster name token: each spelling is folded and hashed once.
    _name_yes: set = field(default_factory=set, repr=False)
    _name_no: set = field(default_factory=set, repr=False)
    _memo: threading.local = field(default_factory=threading.local, repr=False)
    # Matchers' caches for the life of the scan, each under the matcher's name: values derived
    # from documents and the loaded roster (never roster plaintext), bounded by the matcher.
    caches: dict = field(default_factory=dict, repr=False)

    @property
    def roster_size(self) -> int:
        return max(1, self.index.roster_size if self.index is not None else 1)

    def per_document(self, doc) -> dict:
        """Scratch space for the document being matched, shared by every matcher that reads it.

        Matchers stay pure: what they put here is derived from the document and the
        roster only (never kept from one document to the next), so a result computed by
        one matcher, such as which records hold staff names, can be reused by another
        instead of being computed twice. One document at a time per thread;
        `end_document` drops it.
        """
        slot = self._memo
        if getattr(slot, "doc", None) is not doc:
            slot.doc = doc
            slot.values = {}
        return slot.values

    def end_document(self) -> None:
        """Forget the scratch space of the last document (the scanner calls this after each)."""
        slot = self._memo
        slot.doc = None
        slot.values = {}

    def _learn(self, words: set[str]) -> None:
        """Classify the spellings among `words` not seen before (bounded: both sets start over when full)."""
        yes, no = self._name_yes, self._name_no
        unknown = words - yes
        unknown -= no
        if not unknown:
            return
        if len(yes) + len(no) + len(unknown) > NAME_WORD_CACHE:
            yes.clear()
            no.clear()
            unknown = set(words)
        token, tokens = self.hasher.token, self.index.name_tokens
        for w in unknown:
            (yes if token(NAME_LABEL, _word_key(w)) in tokens else no).add(w)

    def may_hold_name(self, text: str) -> bool:
        """Whether any word of the text is a roster name token (forename, nickname or surname).

        Words are looked up as written, each distinct spelling folded and hashed once,
        so most lines of logs and code cost one regex pass and a set comparison in C.
        """
        if self.index is None:
            return False
        words = record_words(text)
        self._learn(set(words))
        return not self._name_yes.isdisjoint(words)

    def name_word_records(self, doc) -> dict[int, tuple[list[str], list[int]]]:
        """The records of a document that hold a roster name word: their words as written, and
        the positions of those that are roster name tokens (forenames, nicknames, surnames).

        The cheap gate in front of name matching (a record without a roster name word
        can hold no staff name). Computed once per document (`per_document`): one regex
        pass per record gathers the words, the spellings not seen before are folded,
        hashed and classified, and each record is then tested with one set comparison
        in C. Most lines of logs and code end there.
        """
        memo = self.per_document(doc)
        got = memo.get("name_word_records")
        if got is None:
            got = memo["name_word_records"] = self._name_word_records(doc.records)
        return got

    def _name_word_records(self, records) -> dict[int, tuple[list[str], list[int]]]:
        if self.index is None or not records:
            return {}
        texts = [rec.text for rec in records]
        joined = RECORD_SEP.join(texts)
        if joined.count(RECORD_SEP) != len(texts) - 1:  # a record holds the separator itself
            return self._name_word_records_each(texts)
        ascii_text = joined.isascii()
        present = None
        if ascii_text:
            # The document's distinct words first, cheaply: letters and joiners kept, everything else
            # made a space, split (C loops); the few pieces holding a joiner are read by the word
            # pattern itself. Most documents (code, logs, configs) end here or just below.
            distinct: set[str] = set()
            for piece in set(joined.encode("ascii").translate(_LETTERS_AND_JOINERS).decode("ascii").split()):
                if "-" in piece or "'" in piece or "`" in piece:
                    distinct.update(_ASCII_WORD.findall(piece))
                else:
                    distinct.add(piece)
            self._learn(distinct)
            present = distinct & self._name_yes
            if not present:
                return {}
            if len(present) <= FEW_NAME_WORDS:
                return self._records_holding(texts, joined, present)
        # One regex pass over the whole document: its words, with a separator token between
        # records; then C loops (set, map, numpy) find the records holding a roster name word.
        tokens = (_ASCII_GATE if ascii_text else _RAW_GATE).findall(joined)
        if present is None:
            distinct = set(tokens)
            distinct.discard(RECORD_SEP)
            self._learn(distinct)
            present = distinct & self._name_yes
            if not present:
                return {}
        yes = present
        n = len(tokens)
        seps = np.flatnonzero(np.fromiter(map(RECORD_SEP.__eq__, tokens), dtype=bool, count=n))
        hits = np.flatnonzero(np.fromiter(map(yes.__contains__, tokens), dtype=bool, count=n))
        # Record r's tokens lie between separators r - 1 and r.
        recs = np.unique(np.searchsorted(seps, hits))
        starts = np.concatenate(([0], seps + 1))[recs]
        ends = np.append(seps, n)[recs]
        first = np.searchsorted(hits, starts)
        last = np.searchsorted(hits, ends)
        out = {}
        for r, a, b, x, y in zip(recs.tolist(), starts.tolist(), ends.tolist(), first.tolist(), last.tolist()):
            out[r] = (tokens[a:b], (hits[x:y] - a).tolist())
        return out

    def _records_holding(self, texts: list[str], joined: str,
                         present: set[str]) -> dict[int, tuple[list[str], list[int]]]:
        """The records holding one of a few name words (as written): found by searching for the
        words themselves (a literal search, in C), then read word by word."""
        pattern = _literals(frozenset(present))
        starts = list(accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
        yes = self._name_yes
        out = {}
        for r in sorted({bisect_right(starts, m.start()) - 1 for m in pattern.finditer(joined)}):
            words = record_words(texts[r])
            names = [i for i, w in enumerate(words) if w in yes]
            if names:
                out[r] = (words, names)
        return out

    def _name_word_records_each(self, texts: list[str]) -> dict[int, tuple[list[str], list[int]]]:
        per = [record_words(t) for t in texts]
        self._learn(set().union(*per))
        yes = self._name_yes
        disjoint, known = yes.isdisjoint, yes.__contains__
        return {r: (words, list(compress(range(len(words)), map(known, words))))
                for r, words in enumerate(per) if words and not disjoint(words)}
