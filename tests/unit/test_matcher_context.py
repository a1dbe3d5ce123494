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
