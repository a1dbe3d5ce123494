"""The hashed roster in memory, and the context matchers work in.

`RosterIndex` is built from the database's keyed entries (never from plaintext):
a sorted int64 array of keys with the staff member, field and kind of each (14 bytes
an entry, about 100 entries a staff member with padding), and a two-probe Bloom filter
that answers most look-ups (which miss) without touching the array.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from leakwatch.keys import Hasher, with_position
from leakwatch.normalise import deletions, name_key

NAME_LABEL = "name"  # the hash label of name tokens (matchers/names.py enrols under it)
NAME_WORD_CACHE = 1_000_000  # distinct spellings remembered by MatchContext.may_hold_name
_RAW_WORD = re.compile(r"[^\W\d_]+(?:['’`´‘\-‐‑–][^\W\d_]+)*")


def _word_key(raw: str) -> str:
    return name_key(raw)

# Bump when what matchers enrol, or how keys are hashed, changes: a roster enrolled under
# another scheme must be imported again (the scanner refuses it until then).
ENTRY_SCHEME = 2

MIN_FUZZY_NAME = 5  # letters: edit distance 1 on shorter names matches too much by chance
MIN_FUZZY_NUMBER = 5  # digits


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
                 name_tokens: set[int], table: StaffTable):
        order = np.argsort(keys)
        self.keys = keys[order]
        del keys
        self.staff = staff[order]
        del staff
        self.fields = fields[order]
        self.kinds = kinds[order]
        del order
        self.name_tokens = name_tokens
        self.table = table
        self._bloom, self._bloom_mask = _bloom(self.keys)

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
        # Nearly every key looked up is absent: two bit probes answer that without numpy.
        m = self._bloom_mask
        bloom = self._bloom
        a = key & m
        b = (key >> 32) & m
        if not (bloom[a >> 3] >> (a & 7)) & 1 or not (bloom[b >> 3] >> (b & 7)) & 1:
            return []
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
        return RosterIndex(keys, staff, (tags // 4).astype(np.int8), (tags % 4).astype(np.int8),
                           set(name_tokens), table)


BLOOM_BITS_PER_KEY = 16  # two probes: about 1.4 % of absent keys reach the sorted array
BLOOM_CHUNK = 1 << 20  # keys per pass when building


def _bloom(keys: np.ndarray) -> tuple[bytes, int]:
    """A two-probe Bloom filter over the keys (already uniform: bit slices serve as the hashes)."""
    bits = 1 << max(16, int(len(keys) * BLOOM_BITS_PER_KEY - 1).bit_length())
    mask = bits - 1
    filt = np.zeros(bits // 8, dtype=np.uint8)
    for start in range(0, len(keys), BLOOM_CHUNK):  # in chunks: temporaries stay small
        u = keys[start:start + BLOOM_CHUNK].view(np.uint64)
        for idx in (u & np.uint64(mask), (u >> np.uint64(32)) & np.uint64(mask)):
            idx = idx.astype(np.int64)
            byte, bit = idx >> 3, idx & 7
            for k in range(8):  # one constant per pass, so repeated indices need no ufunc.at
                filt[byte[bit == k]] |= np.uint8(1 << k)
    return filt.tobytes(), mask


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
    _name_words: dict = field(default_factory=dict, repr=False)  # word as written -> is a name token

    @property
    def roster_size(self) -> int:
        return max(1, self.index.roster_size if self.index is not None else 1)

    def may_hold_name(self, text: str) -> bool:
        """Whether any word of the text is a roster name token (forename, nickname or surname).

        The cheap gate in front of name matching: words are looked up as written, each
        distinct spelling folded and hashed once, so most lines of logs and code cost one
        regex pass and a few dictionary look-ups.
        """
        if self.index is None:
            return False
        cache = self._name_words
        for w in _RAW_WORD.findall(text):
            known = cache.get(w)
            if known is None:
                if len(cache) >= NAME_WORD_CACHE:
                    cache.clear()
                known = cache[w] = self.hasher.token(NAME_LABEL, _word_key(w)) in self.index.name_tokens
            if known:
                return True
        return False

