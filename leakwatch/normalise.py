"""Text normalisation shared by enrolment and matching: both sides must fold alike.

Folding is deliberately lossy (case, diacritics, look-alike letters, punctuation
inside names, O/l in numbers) so that the re-posted, re-typed and OCR'd copies of
a leak hash to the same values as the roster.
"""

from __future__ import annotations

import re
import unicodedata

# Letters from other scripts that look like Latin ones, and Latin letters that NFKD
# does not decompose. Keys are lower case: folding casefolds first.
_LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "ӏ": "l", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ζ": "z", "μ": "u",
    # Latin letters without a decomposition
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
    "ı": "i", "ß": "ss", "ŋ": "n", "ħ": "h", "ŧ": "t",
}
_LOOKALIKE_TABLE = str.maketrans(_LOOKALIKES)
# Inside a name these join rather than split: O'Brien, Smith-Jones, D’Souza.
_NAME_JOINERS = str.maketrans("", "", "'’`´‘-‐‑–")

# Characters read as digits inside identifiers (OCR and deliberate obfuscation).
_DIGIT_LOOKALIKES = str.maketrans({"o": "0", "O": "0", "l": "1", "I": "1", "|": "1", "i": "1"})


def fold(text: str) -> str:
    """Casefold, strip diacritics and map look-alike letters to Latin; keeps other characters."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text
    text = text.translate(_LOOKALIKE_TABLE)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_WORD = re.compile(r"[^\W\d_]+(?:['’`´‘\-‐‑–][^\W\d_]+)*")


def name_tokens(text: str) -> list[str]:
    """Split text into folded name tokens ("O'Brien-Smith" -> "obriensmith")."""
    return [m.group().translate(_NAME_JOINERS) for m in _WORD.finditer(fold(text))]


def word_key(word: str) -> str:
    """One word as written in a document, folded as a name token ("O’Brien" -> "obrien")."""
    return fold(word).translate(_NAME_JOINERS)


def name_key(text: str) -> str:
    """A whole name field folded into one token: "van der Berg" -> "vanderberg"."""
    return "".join(name_tokens(text))


_NOT_DIGIT = re.compile(r"[^0-9]+")


def digits(text: str) -> str:
    """An identifier reduced to its digits, reading O as 0 and l/I as 1; "" when none."""
    return _NOT_DIGIT.sub("", text.translate(_DIGIT_LOOKALIKES))


def email(text: str) -> str:
    """An address folded for comparison: trimmed, casefolded, de-obfuscated (" [at] ", "(dot)")."""
    text = fold(text.strip())
    text = re.sub(r"\s*[\[\(\{<]\s*at\s*[\]\)\}>]\s*", "@", text)
    text = re.sub(r"\s*[\[\(\{<]\s*dot\s*[\]\)\}>]\s*", ".", text)
    return text.strip(" <>\"'.,;:()[]")


def deletions(value: str) -> list[tuple[int, str]]:
    """Every string made by deleting one character, with the deleted position."""
    return [(i, value[:i] + value[i + 1 :]) for i in range(len(value))]


def mask(text: str) -> str:
    """Mask a leaked value for display: the first character of each word, then stars.

    >>> mask("John Smith 123456")
    'J*** S**** 1*****'
    """
    return re.sub(r"(\w)(\w*)", lambda m: m.group(1) + "*" * len(m.group(2)), text)
