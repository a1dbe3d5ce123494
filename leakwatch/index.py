"""The hashed roster in memory, and the context matchers work in.

`RosterIndex` is built from the database's keyed entries (never from plaintext):
a sorted int64 array of keys with the staff member, field and kind of each, so
250,000 staff with their fuzzy neighbourhoods fit in about 100 MB.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from leakwatch.keys import Hasher, combine, with_position
from leakwatch.normalise import deletions

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


@dataclass(frozen=True, slots=True)
class Hit:
    staff: int
    field: Field
    kind: Kind  # of the entry that matched
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


def pair_wrap(label: str, first: int | None = None, second: int | None = None):
    """Wrap for keys of a two-part value (forename+surname): fixes one part, varies the other."""
    if first is not None:
        return lambda k: combine(label, first, k)
    return lambda k: combine(label, k, second)


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
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.staff = staff[order]
        self.fields = fields[order]
        self.kinds = kinds[order]
        self.name_tokens = name_tokens
        self.table = table

    @classmethod
    def from_blobs(cls, blobs, name_tokens, table: StaffTable) -> "RosterIndex":
        """blobs: (keys, tags) per staff member in table order, as enrolment packs them."""
        blobs = list(blobs)
        lengths = np.fromiter((len(t) for _, t in blobs), dtype=np.int64, count=len(blobs))
        keys = np.frombuffer(b"".join(k for k, _ in blobs), dtype=">i8").astype(np.int64)
        tags = np.frombuffer(b"".join(t for _, t in blobs), dtype=np.uint8)
        staff = np.repeat(np.arange(len(blobs), dtype=np.int32), lengths)
        return cls(keys, staff, (tags // 4).astype(np.int8), (tags % 4).astype(np.int8), set(name_tokens), table)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def roster_size(self) -> int:
        return len(self.table)

    def lookup(self, key: int, kinds: frozenset[Kind] = frozenset(Kind), fuzzy_query: bool = False) -> list[Hit]:
        lo = int(np.searchsorted(self.keys, key, side="left"))
        if lo >= len(self.keys) or self.keys[lo] != key:
            return []
        hi = int(np.searchsorted(self.keys, key, side="right"))
        out = []
        for j in range(lo, hi):
            kind = Kind(int(self.kinds[j]))
            if kind in kinds:
                out.append(Hit(int(self.staff[j]), Field(int(self.fields[j])), kind, fuzzy_query or kind != Kind.EXACT))
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


@dataclass
class MatchContext:
    """Everything a matcher may use: the hasher, the hashed roster, public reference data, settings."""

    hasher: Hasher
    index: RosterIndex | None = None
    population: object | None = None  # leakwatch.population.Population
    force_domains: tuple[str, ...] = ()
    force_names: tuple[str, ...] = ()
    sensitive_units: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def roster_size(self) -> int:
        return max(1, self.index.roster_size if self.index is not None else 1)

    def log_chance(self, p: float) -> float:
        """log10 of 1/p, the strength of a value that a stranger's record shows with probability p."""
        return -math.log10(max(p, 1e-15))
