"""Identifier matcher: pay and warrant numbers after normalisation, one edit as corroboration."""

from __future__ import annotations

import pytest

from matchers.identifiers import IdentifierMatcher, number_candidates
from synthetic import prose


def hits(ctx, text):
    return [(e.staff, e.kind, e.fuzzy, e.log_lr) for e in IdentifierMatcher().match(prose(text), ctx)]


def spaced(ds, sep):
    return sep.join(ds[i:i + 2] for i in range(0, len(ds), 2))


@pytest.mark.parametrize("form", [
    lambda d: d,
    lambda d: spaced(d, " "),
    lambda d: spaced(d, "-"),
    lambda d: d.replace("0", "O").replace("1", "l"),
    lambda d: f"pay no:{d}.",
])
def test_formatted_pay_numbers_match_exactly(ctx, rows, form):
    """`12 34 56`, `12-34-56`, O for 0 and l for 1 all normalise to the enrolled number."""
    r = next(r for r in rows if "0" in r.pay_number or "1" in r.pay_number)
    i = rows.index(r)
    found = hits(ctx, f"ref {form(r.pay_number)} end")
    assert (i, "pay_number", False) in {h[:3] for h in found}


def test_warrant_numbers_are_told_apart_from_pay_numbers(ctx, rows):
    """A warrant number is reported as such."""
    assert (5, "warrant_number", False) in {h[:3] for h in hits(ctx, f"collar {rows[5].warrant_number}")}


def test_one_wrong_digit_beside_a_name_is_fuzzy_and_weak(ctx, rows):
    """A one-digit slip next to a name still matches, flagged fuzzy, weaker than an exact number."""
    r = rows[9]
    ds = r.pay_number
    wrong = ds[:3] + str((int(ds[3]) + 1) % 10) + ds[4:]
    found = [h for h in hits(ctx, f"{r.forenames} {r.surname} {wrong}") if h[0] == 9]
    assert found and all(h[2] for h in found)
    assert max(h[3] for h in found) < 4.0


def test_one_wrong_digit_without_a_name_is_not_looked_up(ctx, rows):
    """Fuzzy numbers are corroboration only: with no name token in the record they are not tried."""
    ds = rows[9].pay_number
    wrong = ds[:3] + str((int(ds[3]) + 1) % 10) + ds[4:]
    assert [h for h in hits(ctx, f"order {wrong} shipped") if h[2]] == []


NEGATIVES = ["1234", "10.0.0.1", "version 3.11.7", "call 0800", "abc123456def"]


@pytest.mark.parametrize("text", NEGATIVES)
def test_short_numbers_and_numbers_inside_words_are_not_candidates(text):
    """Under five digits, IP-like runs of short groups, or digits glued to letters are no identifier."""
    assert [c for c in number_candidates(text) if len(c[2]) >= 6] == [] or text == "10.0.0.1"


def test_a_number_not_on_the_roster_does_not_match(ctx, rows):
    """A number nobody holds, and no neighbour of it, gives no evidence."""
    taken = {r.pay_number for r in rows} | {r.warrant_number for r in rows}
    free = next(str(n) for n in range(100000, 200000) if str(n) not in taken)
    assert hits(ctx, free) == [] or all(h[2] for h in hits(ctx, free))


def test_two_numbers_side_by_side_are_both_tried(ctx, rows):
    """"123456 654321" yields each number, not only their concatenation."""
    text = f"{rows[1].pay_number} {rows[2].pay_number}"
    staff = {h[0] for h in hits(ctx, text) if not h[2]}
    assert {1, 2} <= staff


def test_one_wrong_digit_a_few_lines_below_a_name_is_fuzzy(ctx, rows):
    """"Name: ..." on one line and "Pay no: ..." a few lines down: the engine joins them, so the
    slipped number is looked up there too."""
    r = rows[9]
    ds = r.pay_number
    wrong = ds[:3] + str((int(ds[3]) + 1) % 10) + ds[4:]
    doc = prose(f"Name: {r.forenames} {r.surname}", "Rank: PC", "Unit: Response", f"Pay no: {wrong}")
    found = [e for e in IdentifierMatcher().match(doc, ctx) if e.staff == 9]
    assert found and all(e.fuzzy and e.record == 3 for e in found)


def test_one_wrong_digit_far_from_any_name_is_not_looked_up(ctx, rows):
    """Beyond the lines the engine joins, a one-edit number could only be noise: not tried."""
    r = rows[9]
    ds = r.pay_number
    wrong = ds[:3] + str((int(ds[3]) + 1) % 10) + ds[4:]
    doc = prose(f"Name: {r.forenames} {r.surname}", *["filler line"] * 8, f"Pay no: {wrong}")
    assert [e for e in IdentifierMatcher().match(doc, ctx) if e.fuzzy] == []


def test_exact_numbers_are_found_whatever_the_document_holds(ctx, rows):
    """Exact look-ups are batched per document: every line's numbers, with their own spans."""
    lines = [f"id {rows[i].pay_number} ok" for i in range(20)] + ["no numbers here"]
    doc = prose(*lines)
    got = {(e.record, e.staff) for e in IdentifierMatcher().match(doc, ctx) if not e.fuzzy}
    assert {(i, i) for i in range(20)} <= got
    ev = next(e for e in IdentifierMatcher().match(doc, ctx) if e.record == 4 and e.staff == 4)
    assert doc.records[4].text[ev.span[0]:ev.span[1]] == rows[4].pay_number


def test_a_pay_or_warrant_column_with_a_number_is_stated_for_the_engine(ctx):
    """Rows whose pay or warrant column holds a number say so (about no one); other columns do not."""
    from synthetic import table

    doc = table(["Name", "Payroll No", "Collar Number", "Phone"],
                [["A B", "123987", "", "07700900123"], ["C D", "", "4455667", "07700900124"], ["E F", "n/a", "", ""]])
    stated = {(e.record, e.detail) for e in IdentifierMatcher().match(doc, ctx) if e.kind == "stated_identifier"}
    assert stated == {(0, "pay_number"), (1, "warrant_number")}
    assert all(e.staff is None for e in IdentifierMatcher().match(doc, ctx) if e.kind == "stated_identifier")


@pytest.mark.parametrize("text, whole", [
    ("2024-01-26T17:58:50 host39 nginx[2086426]: done id=31098932", ["2086426", "31098932"]),
    ("built 2024-01-26 by ci", ["20240126"]),
    ("v1.2.3.456789", []),
    ("tel 0141-496-0540", ["01414960540"]),
    ("141.155.24.239 - - GET / 200", []),  # an IPv4 address is no number of 11 digits
    ("pay 12.34.56", ["123456"]),
])
def test_only_whole_runs_are_candidates(text, whole):
    """The head of a longer run ("2024-01" of a timestamp) or its tail is no number of its own."""
    assert [c[2] for c in number_candidates(text)] == whole


def test_a_timestamped_log_does_not_match_a_staff_number_on_every_line(ctx, rows):
    """A staff number equal to a date's year and month ("2024-01") is not read from each timestamp."""
    r = rows[3]
    yymm = f"{r.pay_number[:4]}-{r.pay_number[4:]}"
    log = "\n".join(f"{yymm}-{d:02}T10:00:00 host app[{d}]: ok" for d in range(1, 29))
    assert [h for h in hits(ctx, log) if h[0] == 3] == []
    assert (3, "pay_number", False) in {h[:3] for h in hits(ctx, f"pay {yymm}")}


def test_one_edit_numbers_are_kept_only_for_the_staff_named_beside_them(ctx, rows):
    """A phone number one edit from other staff's numbers, beside a name, corroborates that name only."""
    from synthetic import table

    r = rows[9]
    wrong = r.pay_number[:3] + str((int(r.pay_number[3]) + 1) % 10) + r.pay_number[4:]
    others = rows[20].pay_number
    near_other = others[:-1] + str((int(others[-1]) + 1) % 10)
    doc = table(["Name", "Pay", "Phone"], [[f"{r.forenames} {r.surname}", wrong, near_other]])
    fuzzy = {(e.staff, e.kind) for e in IdentifierMatcher().match(doc, ctx) if e.fuzzy}
    assert (9, "pay_number") in fuzzy
    assert 20 not in {s for s, _ in fuzzy}


def test_document_candidates_are_each_records_candidates_in_order():
    """The one-pass reading of a whole document finds what reading each record alone finds."""
    import random

    from leakwatch.models import Record
    from matchers.identifiers import document_candidates

    rng = random.Random(7)
    pieces = ["123456", "12 34 56", "O1234l", "2024-01-26T10:00", "id=31098932", "pid[2086426]", "x86",
              "0141-496-0540", "v1.2.3.456789", "Zoë", "£1,234,567", "12345 654321", "ab12345", "7" * 30, "",
              "10.20.30.40", "192.168.1.254 55", "12.34.56"]
    texts = [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(400)]
    got = document_candidates([Record(text=t, where="") for t in texts])
    want = [(r, a, b, ds) for r, t in enumerate(texts) for a, b, ds in number_candidates(t)]
    assert list(zip(*got)) == want
    assert any(" " in texts[r][a:b] for r, a, b, _ in want)  # runs with separators are among them


def test_numbers_of_lengths_no_staff_number_has_are_skipped_without_changing_the_evidence(ctx, rows):
    """With the roster's number lengths known, other lengths are not hashed, and exact and
    one-edit matches (a digit lost, added or changed beside a name) come out as without them."""
    import dataclasses

    from synthetic import table

    assert ctx.identifier_lengths == {6, 7}
    body = []
    for k, r in enumerate(rows[:12]):
        p, w = r.pay_number, r.warrant_number
        variants = [p, w, p[:-1], p + "5", w[:-1], w + "1", p[:2] + str((int(p[2]) + 1) % 10) + p[3:],
                    "12345", "123456789", "12345678901"]
        body.append([f"{r.forenames} {r.surname}", variants[k % len(variants)], str(10 ** (5 + k % 8) + k)])
    doc = table(["Name", "Number", "Other"], body)
    known = list(IdentifierMatcher().match(doc, ctx))
    ctx.end_document()
    unknown = list(IdentifierMatcher().match(doc, dataclasses.replace(ctx, identifier_lengths=None)))
    assert known == unknown
    assert {e.fuzzy for e in known} == {True, False}
