"""Context matcher: public police vocabulary, matched fuzzily with rapidfuzz."""

from __future__ import annotations

import pytest

from matchers.context import ContextMatcher, header_meaning
from synthetic import prose, table


@pytest.mark.parametrize("header,meaning", [
    ("Pay No.", "pay number"), ("PAYROLL_NUMBER", "pay number"), ("Colar No", "warrant number"),
    ("Vetting Level", "vetting"), ("Rank", "rank"), ("Surname", "name"),
])
def test_headers_are_read_fuzzily(header, meaning):
    """Spelling, case, punctuation and a typo do not hide what a column holds."""
    assert header_meaning(header) == meaning


@pytest.mark.parametrize("header", ["Product", "Price", "Quantity", "Colour", "SKU"])
def test_unrelated_headers_mean_nothing(header):
    """Shop columns are not police vocabulary."""
    assert header_meaning(header) is None


def test_rank_and_unit_words_in_text_are_context(ctx):
    """Rank words and unit names become context evidence with no person attached."""
    evs = list(ContextMatcher().match(prose("DS on Counter Terrorism duties"), ctx))
    details = {e.detail for e in evs}
    assert {"rank words", "unit name"} <= details
    assert all(e.staff is None for e in evs)


def test_table_headers_are_context(ctx):
    """A table's header row is read once for context."""
    doc = table(["Surname", "Pay No", "Vetting"], [["a", "1", "x"], ["b", "2", "y"]])
    assert {"header: name", "header: pay number", "header: vetting"} <= {e.detail for e in ContextMatcher().match(doc, ctx)}


def test_rank_words_are_counted_per_record_and_vocabulary_placed_in_its_first_record(ctx):
    """Rank words count the records holding any (in any spelling); a unit or force name is
    reported at the first record naming it, as reading the records one by one would."""
    import random

    from leakwatch.normalise import fold
    from matchers.context import _LONG_RANKS, _WORD, RANKS, UNIT_WORDS, _alternation

    rng = random.Random(11)
    pieces = ["DS", "Police Constable", "police\nconstable", "CID", "Sgt.", "Ümit", "ﬁrearms", "the", "ds-x",
              "sergeantry", "Metropolitan Police", "\x1e", "chief", ""]
    texts = [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))) for _ in range(300)]
    evs = {e.detail: e for e in ContextMatcher().match(prose(*texts), ctx)}
    want = sum(1 for t in texts if not RANKS.isdisjoint(_WORD.findall(fold(t))) or _LONG_RANKS.search(fold(t)))
    assert evs["rank words"].log_lr == want > 20
    units = _alternation(tuple(fold(u) for u in ctx.sensitive_units) + UNIT_WORDS)
    assert evs["unit name"].record == next(r for r, t in enumerate(texts) if units.search(fold(t)))
