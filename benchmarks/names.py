"""The synthetic name population: one mixture of Faker locales, shared by the
population table (`tools/build_population.py`) and every benchmark roster or corpus.

The mixture is the single definition of "a random person" in this project. The
population table gives the engine the frequency of each forename and surname under
this mixture, and `sample_person` draws people from exactly the same mixture with
exactly the same weights, so benchmark figures measure the engine against the
distribution it was calibrated on (and the table can be swapped for a force's own
figures without touching the benchmarks).

Within a locale a name's probability is Faker's own weight where the provider
carries weights (an OrderedDict of name -> weight) and uniform over the list
otherwise (a name listed twice counts twice, as Faker's `random_element` does).
A person is male or female with probability one half each; forenames and, where
the provider has them, surnames are drawn from the list for that sex.

Only Latin-script names are used: a name with letters of another script is dropped,
and a locale whose lists are mostly another script (ar_AA, bn_BD, hi_IN, ...) is
not in the mixture at all. zh_CN is used through its romanised (pinyin) lists.

All names are synthetic and come from Faker's provider lists; none is a real person.
"""

from __future__ import annotations

import bisect
import importlib
import itertools
import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Locale -> share of the population. Roughly the UK's make-up by background (white
# British the large majority; Irish; South Asian; Polish, Romanian and other EU;
# West African; Chinese; Turkish), rounded. en_US adds breadth to English-language
# names: en_GB's forename lists are short and unweighted, while the real spread of
# British forenames is wide. Sums to 1.
MIXTURE: dict[str, float] = {
    "en_GB": 0.615,
    "en_US": 0.05,
    "en_IE": 0.04,
    "en_IN": 0.05,
    "en_PK": 0.03,
    "pl_PL": 0.03,
    "ro_RO": 0.02,
    "pt_PT": 0.01,
    "pt_BR": 0.01,
    "it_IT": 0.02,
    "es_ES": 0.015,
    "fr_FR": 0.015,
    "de_DE": 0.015,
    "tr_TR": 0.015,
    "nl_NL": 0.005,
    "yo_NG": 0.02,
    "ig_NG": 0.01,
    "tw_GH": 0.01,
    "en_KE": 0.005,
    "zh_CN": 0.015,
}

# Where a locale keeps its lists under other names than Faker's usual ones.
# Each value maps a role to the provider attributes whose lists are concatenated.
_OVERRIDES: dict[str, dict[str, tuple[str, ...]]] = {
    # Faker's pl_PL draws last_name() from unisex_last_names; male_last_names holds
    # the -ski/-cki forms, which we add for men and, feminised, for women.
    "pl_PL": {
        "surname_male": ("unisex_last_names", "male_last_names"),
        "surname_female": ("unisex_last_names", "male_last_names:feminine"),
    },
    # zh_CN: the Han-character lists are not Latin script; use the pinyin ones.
    "zh_CN": {
        "forename_male": ("first_romanized_names",),
        "forename_female": ("first_romanized_names",),
        "surname_male": ("last_romanized_names",),
        "surname_female": ("last_romanized_names",),
    },
}

# A list whose Latin-script share is below this is treated as another script.
_MIN_LATIN_SHARE = 0.9

ROLES = ("forename_male", "forename_female", "surname_male", "surname_female")
_DEFAULT_ATTRS = {
    "forename_male": ("first_names_male", "first_names"),
    "forename_female": ("first_names_female", "first_names"),
    "surname_male": ("last_names_male", "last_names"),
    "surname_female": ("last_names_female", "last_names"),
}


def is_latin(name: str) -> bool:
    """True when every letter of `name` is Latin script (diacritics allowed)."""
    letters = [ch for ch in name if ch.isalpha()]
    return bool(letters) and all("LATIN" in unicodedata.name(ch, "") for ch in letters)


def _feminine_polish(surname: str) -> str:
    for male, female in (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")):
        if surname.endswith(male):
            return surname[: -len(male)] + female
    return surname


@dataclass(frozen=True, slots=True)
class NameList:
    """Names with cumulative probabilities, for sampling and for the table."""

    names: tuple[str, ...]
    probs: tuple[float, ...]  # sums to 1
    cum: tuple[float, ...]

    @classmethod
    def from_weights(cls, weights: dict[str, float]) -> "NameList":
        total = sum(weights.values())
        names = tuple(weights)
        probs = tuple(weights[n] / total for n in names)
        return cls(names, probs, tuple(itertools.accumulate(probs)))

    def draw(self, rng: random.Random) -> str:
        i = bisect.bisect_right(self.cum, rng.random() * self.cum[-1])
        return self.names[min(i, len(self.names) - 1)]


def _provider(locale: str):
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


def _base_values(attr: str):
    base = importlib.import_module("faker.providers.person").Provider
    return getattr(base, attr, None)


def _weights(values, *, transform=None) -> dict[str, float]:
    """Faker's within-list probabilities: its weights when it has them, else uniform."""
    out: dict[str, float] = {}
    if isinstance(values, dict):
        items = list(values.items())
    else:
        items = [(v, 1.0) for v in values]
    for name, w in items:
        if transform is not None:
            name = transform(name)
        out[name] = out.get(name, 0.0) + float(w)
    return out


def _role_weights(locale: str, role: str) -> dict[str, float]:
    prov = _provider(locale)
    attrs = _OVERRIDES.get(locale, {}).get(role)
    if attrs is not None:
        merged: dict[str, float] = {}
        for spec in attrs:
            attr, _, mode = spec.partition(":")
            transform = _feminine_polish if mode == "feminine" else None
            # Concatenated lists, as one list would be (these are unweighted tuples).
            for n, v in _weights(getattr(prov, attr), transform=transform).items():
                merged[n] = merged.get(n, 0.0) + v
        return merged
    for attr in _DEFAULT_ATTRS[role]:
        values = getattr(prov, attr, None)
        # Skip the base provider's placeholders (["John", "Jane"], ["Doe"]).
        if values and values is not _base_values(attr):
            return _weights(values)
    raise LookupError(f"{locale}: no list for {role}")


@lru_cache(maxsize=None)
def locale_lists(locale: str) -> dict[str, NameList]:
    """The four name lists of one locale (Latin-script names only), keyed by role.

    Raises ValueError when a list is mostly another script: such a locale cannot
    be in the mixture.
    """
    out = {}
    for role in ROLES:
        weights = _role_weights(locale, role)
        latin = {n: w for n, w in weights.items() if is_latin(n)}
        share = sum(latin.values()) / sum(weights.values())
        if share < _MIN_LATIN_SHARE:
            raise ValueError(f"{locale}: {role} is {share:.0%} Latin script")
        out[role] = NameList.from_weights(latin)
    return out


class Mixture:
    """Cumulative locale weights plus each locale's lists, ready for sampling."""

    def __init__(self, mixture: dict[str, float] = MIXTURE):
        total = sum(mixture.values())
        self.locales = tuple(mixture)
        self.weights = tuple(mixture[loc] / total for loc in self.locales)
        self.cum = tuple(itertools.accumulate(self.weights))
        self.lists = {loc: locale_lists(loc) for loc in self.locales}

    def locale(self, rng: random.Random) -> str:
        i = bisect.bisect_right(self.cum, rng.random() * self.cum[-1])
        return self.locales[min(i, len(self.locales) - 1)]

    def person(self, rng: random.Random) -> tuple[str, str, str, str]:
        """(forename, surname, locale, sex) with sex in {"male", "female"}."""
        loc = self.locale(rng)
        sex = "male" if rng.random() < 0.5 else "female"
        lists = self.lists[loc]
        return lists[f"forename_{sex}"].draw(rng), lists[f"surname_{sex}"].draw(rng), loc, sex

    def forename(self, rng: random.Random, locale: str, sex: str) -> str:
        return self.lists[locale][f"forename_{sex}"].draw(rng)


@lru_cache(maxsize=1)
def default_mixture() -> Mixture:
    return Mixture(MIXTURE)


def sample_person(rng: random.Random) -> tuple[str, str, str]:
    """One random person of the mixture: (forename, surname, locale)."""
    forename, surname, locale, _sex = default_mixture().person(rng)
    return forename, surname, locale


def sample_person_sex(rng: random.Random) -> tuple[str, str, str, str]:
    """As `sample_person`, plus the sex the names were drawn for (for middle names)."""
    return default_mixture().person(rng)


def sample_forename(rng: random.Random, locale: str, sex: str) -> str:
    """Another forename of the same locale and sex (a middle name)."""
    return default_mixture().forename(rng, locale, sex)
