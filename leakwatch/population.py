"""How common a name is: the population reference the engine scores name matches with.

A match on a roster name is evidence in proportion to how unlikely it is that some
*other* person in a document bears that name. The engine's likelihood ratio for a
name hit is therefore about 1 / frequency: `Population` answers the frequency of a
forename, a surname, or a forename initial in the general population.

The table is a gzip'd TSV, one name a line:

    kind<TAB>name<TAB>freq

* kind: `forename` or `surname`;
* name: the name as folded by `leakwatch.normalise.name_key` (names are folded again
  on load, so a table of raw spellings works too; keys that fold alike are summed);
* freq: the probability that a random person of the population has that forename
  (resp. surname), a float in (0, 1]. Frequencies of a kind need not sum to 1 (a
  table may list only the commoner names); lines starting with `#` and blank lines
  are ignored.

The shipped table (`leakwatch/data/population.tsv.gz`, built by
`tools/build_population.py`) describes a synthetic mixture of name origins roughly
like the UK's. A force that has better figures (for example from its own HR data or
national statistics) supplies its own file in the same format through
`load_population(path)`.

Only the standard library and `leakwatch.normalise` are imported.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable
from pathlib import Path

from leakwatch.normalise import name_key

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "population.tsv.gz"
KINDS = ("forename", "surname")

# A name absent from the table is assumed to have this multiple of the smallest
# frequency listed for its kind. Absent means rarer than anything the table knows,
# so the floor sits below the rarest listed name; but absence is also what a typo,
# a transliteration or a name the table's sources missed looks like, and those are
# not truly rarer than the rarest listed name by much. Half of the smallest listed
# frequency keeps an unlisted name's likelihood ratio within a factor of two of the
# rarest known name's, so an unlisted name can never outweigh a listed one by much
# (a floor far below the table would let any misspelling score as a unique name).
FLOOR_FACTOR = 0.5

# Share of people whose forename and surname come from different origins (mixed
# families, adopted names): their chance is the product of overall frequencies.
INDEPENDENT_SHARE = 0.1


class Population:
    """Forename and surname frequencies, loaded from a table on first use (then cached).

    Look-ups take name keys (`leakwatch.normalise.name_key` output); others are folded
    first, so `forename("Zoë")` and `forename("zoe")` agree.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else DEFAULT_PATH
        self._lock = threading.Lock()
        self._tables: dict[str, dict[str, float]] | None = None
        self._names: dict[str, list[str]] = {}
        self._initials: dict[str, float] = {}
        self._floors: dict[str, float] = {}

    # -- loading -----------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, float]]:
        if self._tables is not None:
            return self._tables
        with self._lock:
            if self._tables is not None:
                return self._tables
            weights: dict[str, float] = {}
            per_origin: dict[str, dict[str, dict[str, float]]] = {k: {} for k in KINDS}  # kind -> key -> origin -> p
            opener = gzip.open if self.path.suffix == ".gz" else open
            with opener(self.path, "rt", encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    line = line.rstrip("\r\n")
                    if not line.strip() or line.startswith("#"):
                        continue
                    parts = line.split("\t")
                    if len(parts) == 3:  # kind, name, freq: one origin for the whole table
                        parts = [parts[0], "*", parts[1], parts[2]]
                        weights.setdefault("*", 1.0)
                    if len(parts) != 4:
                        raise ValueError(f"{self.path}: line {lineno}: expected kind<TAB>name<TAB>freq "
                                         "or kind<TAB>origin<TAB>name<TAB>probability")
                    kind, origin, raw, value_text = parts
                    kind = kind.strip().lower()
                    try:
                        value = float(value_text)
                    except ValueError:
                        raise ValueError(f"{self.path}: line {lineno}: not a number") from None
                    if not 0.0 < value <= 1.0:
                        raise ValueError(f"{self.path}: line {lineno}: probability must be in (0, 1]")
                    if kind == "origin":
                        weights[origin] = value
                        continue
                    if kind not in per_origin:
                        raise ValueError(f"{self.path}: line {lineno}: kind must be origin, forename or surname")
                    key = name_key(raw)
                    if key:
                        slot = per_origin[kind].setdefault(key, {})
                        slot[origin] = slot.get(origin, 0.0) + value
            total_w = sum(weights.values()) or 1.0
            weights = {o: w / total_w for o, w in weights.items()}
            tables: dict[str, dict[str, float]] = {k: {} for k in KINDS}
            for kind in KINDS:
                for key, origins in per_origin[kind].items():
                    unknown = set(origins) - set(weights)
                    if unknown:
                        raise ValueError(f"{self.path}: origin {sorted(unknown)[0]!r} has no origin line")
                    tables[kind][key] = sum(weights[o] * p for o, p in origins.items())
            for kind in KINDS:
                table = tables[kind]
                if not table:
                    raise ValueError(f"{self.path}: no {kind} lines")
                self._floors[kind] = FLOOR_FACTOR * min(table.values())
                # Most frequent first.
                self._names[kind] = sorted(table, key=lambda k: (-table[k], k))
            total = sum(tables["forename"].values())
            initials: dict[str, float] = {}
            initials_by_origin: dict[str, dict[str, float]] = {}
            for key, freq in tables["forename"].items():
                initials[key[0]] = initials.get(key[0], 0.0) + freq / total
                slot = initials_by_origin.setdefault(key[0], {})
                for o, p in per_origin["forename"][key].items():
                    slot[o] = slot.get(o, 0.0) + p
            self._initials = initials
            self._initials_by_origin = initials_by_origin
            self._per_origin = per_origin
            self._weights = weights
            self._tables = tables
            return tables

    def load(self) -> "Population":
        """Read the table now (before worker processes fork, so they share it)."""
        self._load()
        return self

    def pair(self, forenames: Iterable[str], surname: str) -> float:
        """Chance a random person's forename is one of `forenames` and their surname `surname`.

        Names cluster by origin, so this is sum over origins of weight x P(forename |
        origin) x P(surname | origin), plus a share (INDEPENDENT_SHARE) of the product
        of overall frequencies for people whose names cross origins. Unlisted names
        take the floor. Keys must be listed keys or they count as unlisted.
        """
        self._load()
        po = self._per_origin
        fn_origins: dict[str, float] = {}
        fn_total = 0.0
        for f in forenames:
            for o, p in po["forename"].get(f, {}).items():
                fn_origins[o] = fn_origins.get(o, 0.0) + p
            fn_total += self._tables["forename"].get(f, 0.0)
        sn_origins = po["surname"].get(surname, {})
        sn_total = self._tables["surname"].get(surname) or self._floors["surname"]
        fn_total = fn_total or self._floors["forename"]
        joint = sum(self._weights[o] * p * fn_origins.get(o, 0.0) for o, p in sn_origins.items())
        return (1 - INDEPENDENT_SHARE) * joint + INDEPENDENT_SHARE * fn_total * sn_total

    def initial_pair(self, letter: str, surname: str) -> float:
        """Chance a random person's forename starts with `letter` and their surname is `surname`."""
        self._load()
        by_o = self._initials_by_origin.get(letter, {})
        sn_origins = self._per_origin["surname"].get(surname, {})
        sn_total = self._tables["surname"].get(surname) or self._floors["surname"]
        joint = sum(self._weights[o] * p * by_o.get(o, 0.0) for o, p in sn_origins.items())
        return (1 - INDEPENDENT_SHARE) * joint + INDEPENDENT_SHARE * self.initial(letter) * sn_total

    def sampler(self, rng):
        """A function drawing (forename key, surname key) of a random person, origin by origin.

        For generated demo and test data: names follow the table's frequencies and
        stay consistent within an origin, as real people's do.
        """
        import itertools

        self._load()
        origins = sorted(self._weights)
        cum_w = list(itertools.accumulate(self._weights[o] for o in origins))
        lists: dict[tuple[str, str], tuple[list[str], list[float]]] = {}
        for kind in KINDS:
            for o in origins:
                items = sorted((k, v[o]) for k, v in self._per_origin[kind].items() if o in v)
                lists[(kind, o)] = ([k for k, _ in items], list(itertools.accumulate(p for _, p in items)))

        def draw() -> tuple[str, str]:
            o = rng.choices(origins, cum_weights=cum_w)[0]
            fn, fc = lists[("forename", o)]
            sn, sc = lists[("surname", o)]
            return rng.choices(fn, cum_weights=fc)[0], rng.choices(sn, cum_weights=sc)[0]

        return draw

    # -- look-ups ----------------------------------------------------------------

    @property
    def FLOOR_FORENAME(self) -> float:  # noqa: N802  (a constant of the loaded table)
        """Frequency assumed for a forename absent from the table (see FLOOR_FACTOR)."""
        self._load()
        return self._floors["forename"]

    @property
    def FLOOR_SURNAME(self) -> float:  # noqa: N802
        """Frequency assumed for a surname absent from the table (see FLOOR_FACTOR)."""
        self._load()
        return self._floors["surname"]

    def floor(self, kind: str) -> float:
        self._load()
        return self._floors[_kind(kind)]

    def get(self, kind: str, key: str) -> float | None:
        """The listed frequency of a name, or None when the table lacks it."""
        return self._load()[_kind(kind)].get(_key(key))

    def forename(self, key: str) -> float:
        """Probability a random person has this forename; the floor when unlisted."""
        freq = self.get("forename", key)
        return self._floors["forename"] if freq is None else freq

    def surname(self, key: str) -> float:
        """Probability a random person has this surname; the floor when unlisted."""
        freq = self.get("surname", key)
        return self._floors["surname"] if freq is None else freq

    def initial(self, letter: str) -> float:
        """Probability a random person's forename starts with this letter (folded).

        Derived from the forename table, normalised over the forename mass listed.
        A letter no listed forename starts with gets the forename floor.
        """
        self._load()
        key = _key(letter)[:1]
        return self._initials.get(key, self._floors["forename"]) if key else self._floors["forename"]

    def __len__(self) -> int:
        return sum(len(t) for t in self._load().values())

    def __repr__(self) -> str:
        return f"Population({str(self.path)!r})"


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return kind


def _key(text: str) -> str:
    # Cheap when already a key; folds raw names otherwise.
    return text if text.isascii() and text.isalpha() and text.islower() else name_key(text)


_default: Population | None = None
_default_lock = threading.Lock()


def load_population(path: str | Path | None = None) -> Population:
    """The population reference: the shipped table, or a force's own.

    With no path, returns the shared instance over `leakwatch/data/population.tsv.gz`
    (loaded once, on first look-up). With a path, returns a Population over that file,
    which must have the format described in this module's docstring:

        forename<TAB>david<TAB>0.0124
        surname<TAB>smith<TAB>0.0126
        ...

    gzip'd when the name ends in `.gz`, plain UTF-8 text otherwise. Errors in the
    file (a bad kind, a frequency outside (0, 1], a missing kind) raise ValueError
    with the line number on first look-up.
    """
    global _default
    if path is not None:
        return Population(path)
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Population()
    return _default
