"""The in-memory index: key order, batched look-ups, the per-document name-word gate."""

from __future__ import annotations

import numpy as np
import pytest

from leakwatch.index import _key_order
from synthetic import prose


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000, 200_000])
def test_key_order_sorts_like_argsort(n):
    """Keys sorted by top bits and position come out fully sorted, duplicates and near-ties included."""
    rng = np.random.default_rng(n)
    keys = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
    if n >= 7:
        keys[: n // 7] = keys[n // 7: 2 * (n // 7)]  # duplicates (namesakes share keys)
        keys[1] = keys[3] + 1  # same top bits, different low bits
        keys[2] = keys[3] - 1
        keys[4] = np.iinfo(np.int64).min
        keys[5] = np.iinfo(np.int64).max
    order = _key_order(keys)
    assert sorted(order.tolist()) == list(range(n))
    assert (keys[order] == np.sort(keys)).all()


def test_lookup_many_finds_what_lookup_finds(ctx):
    """A batch look-up returns, per key, the same entries as one look-up per key."""
    index = ctx.index
    rng = np.random.default_rng(1)
    present = rng.choice(index.keys, 300).tolist()
    absent = rng.integers(-2**63, 2**63 - 1, 300, dtype=np.int64).tolist()
    keys = present + absent + present[:5]
    want = sorted((q, h.staff, h.field, h.kind) for q, k in enumerate(keys) for h in index.lookup(k))
    got = index.lookup_many(keys)
    assert sorted(got) == want
    assert [t[0] for t in got] == sorted(t[0] for t in got)  # in the order of the keys
    assert len({q for q, *_ in want}) >= 300
    assert sorted(index.lookup_many(keys[:3])) == sorted(t for t in want if t[0] < 3)  # the per-key path
    assert index.lookup_many([]) == []
    for kinds in ((0,), (1, 2)):  # only entries of the kinds asked for, on both paths
        assert sorted(index.lookup_many(keys, kinds)) == [t for t in want if t[3] in kinds]
        assert sorted(index.lookup_many(keys[:3], kinds)) == [t for t in want if t[0] < 3 and t[3] in kinds]


def test_name_word_gate_marks_records_with_roster_name_words(ctx, rows):
    """Records holding a roster forename or surname are kept with the positions of those words."""
    r = rows[0]
    doc = prose("nothing to see here 2024-01-01", f"contact {r.forenames} {r.surname} today", "x-y z")
    gated = ctx.name_word_records(doc)
    assert list(gated) == [1]
    words, names = gated[1]
    assert words[0] == "contact" and {words[i] for i in names} >= {r.surname}
    assert ctx.may_hold_name(doc.records[1].text) and not ctx.may_hold_name(doc.records[0].text)
    assert ctx.name_word_records(doc) is gated  # once per document


@pytest.mark.parametrize("odd", ["", "Zoë Ødegård", "tab\x1esep"])
@pytest.mark.parametrize("names", [20, 1])  # many name words (one regex pass), a few (searched for)
def test_name_word_gate_reads_a_document_as_its_records_one_by_one(ctx, rows, odd, names):
    """The one-pass gate finds the same records and words as reading each record alone
    (ASCII, other scripts, a record holding the separator character itself, joined and
    hyphenated words, a name word inside a longer word)."""
    import random

    rng = random.Random(3)
    vocab = ["the", "job", "x86", "S2G", "O'Neill", "smith-jones", "--opt", "a--b", "", "12345", odd]
    vocab += [r.surname for r in rows[:names]] + [r.forenames for r in rows[:names]]
    vocab += [rows[0].surname + "son", "x-" + rows[0].surname, rows[0].surname + "-"]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) for _ in range(300)] + [""]
    doc = prose(*texts)
    one_pass = ctx.name_word_records(doc)
    each = ctx._name_word_records_each(texts)
    assert one_pass == each and len(each) > 50


def test_per_document_scratch_is_dropped_between_documents(ctx):
    """Scratch space belongs to one document: another document, or end_document, starts it afresh."""
    a, b = prose("one"), prose("two")
    ctx.per_document(a)["x"] = 1
    assert ctx.per_document(a) == {"x": 1}
    assert ctx.per_document(b) == {}
    ctx.per_document(b)["y"] = 2
    ctx.end_document()
    assert ctx.per_document(b) == {}


def test_batched_hashes_equal_single_ones(ctx):
    """Hasher.tokens and Hasher.pairs give what token and pair give one by one."""
    h = ctx.hasher
    values = ["123456", "", "7654321"]
    assert h.tokens("num", values) == [h.uncached("num", v) for v in values]
    pairs = [(1, 2), (-5, 2**62), (0, 0)]
    assert h.pairs("pair", pairs) == [h.pair("pair", a, b) for a, b in pairs]
    assert h.tokens("num", []) == [] and h.pairs("pair", []) == []
