"""Name matcher: true and false positives over a hashed roster of made-up names."""

from __future__ import annotations

import pytest

from matchers.names import NameMatcher
from synthetic import prose


def staff_found(ctx, text):
    return {(ev.staff, ev.kind, ev.fuzzy) for ev in NameMatcher().match(prose(text), ctx)}


def who(ctx, text):
    return {ev.staff for ev in NameMatcher().match(prose(text), ctx)}


def idx(rows, n):
    return n  # staff are indexed in roster order


TRUE_POSITIVES = [
    "{f} {s}",
    "{S}, {f}",
    "{s} {f}",
    "{f[0]}. {s}",
    "{s} {f[0]}",
    "Officer: {F} {S} (Response)",
    "{f} | PC | {s}",
]


@pytest.mark.parametrize("template", TRUE_POSITIVES)
def test_name_forms_match_the_staff_member(ctx, rows, template):
    """Forename+surname in either order, SURNAME, Forename and initials all find the staff member."""
    r = rows[0]
    text = template.format(f=r.forenames, s=r.surname, F=r.forenames.upper(), S=r.surname.upper())
    assert 0 in who(ctx, text)


def test_one_typo_in_a_long_surname_matches_fuzzily(ctx, rows):
    """Edit distance 1 on a surname of 5+ letters still matches, flagged fuzzy."""
    r = next(r for r in rows if len(r.surname) >= 7)
    i = rows.index(r)
    typo = r.surname[:3] + ("x" if r.surname[3] != "x" else "y") + r.surname[4:]
    found = staff_found(ctx, f"{r.forenames} {typo}")
    assert (i, "name", True) in found


def test_dropped_and_added_letters_match(ctx, rows):
    """A deleted or an inserted letter in a 5+ letter surname is within one edit."""
    r = next(r for r in rows if len(r.surname) >= 7)
    i = rows.index(r)
    assert i in who(ctx, f"{r.forenames} {r.surname[:4] + r.surname[5:]}")
    assert i in who(ctx, f"{r.forenames} {r.surname[:4] + 'q' + r.surname[4:]}")


def test_two_typos_do_not_match(ctx, rows):
    """Edit distance 2 is not a hit: the deleted position is part of the hash."""
    r = next(r for r in rows[300:] if len(r.surname) >= 8)
    i = rows.index(r)
    s = r.surname.lower()
    two = s[:2] + ("z" if s[2] != "z" else "y") + s[3:5] + ("z" if s[5] != "z" else "y") + s[6:]
    assert i not in who(ctx, f"{r.forenames} {two}")


def test_diacritics_and_lookalike_letters_fold(ctx, rows):
    """Accents and Cyrillic look-alike letters fold to the Latin name."""
    r = next(r for r in rows if "a" in r.surname and "e" in r.surname.lower())
    i = rows.index(r)
    accented = r.surname.replace("e", "é")
    cyrillic = r.surname.replace("a", "\u0430")  # Cyrillic small a
    assert i in who(ctx, f"{r.forenames} {accented}")
    assert i in who(ctx, f"{r.forenames} {cyrillic}")


def test_nickname_matches_the_given_name(key):
    """'Bill' finds a William: nicknames come from the nicknames package."""
    from leakwatch.keys import Hasher
    from leakwatch.models import RosterRow
    from leakwatch.roster.enrol import context_from_enrolment, enrol_rows

    h = Hasher(key)
    row = RosterRow(line=2, staff_id="N1", forenames="William", surname="Quillerby")
    c = context_from_enrolment(enrol_rows([row], h, ()), h)
    assert who(c, "Bill Quillerby") == {0}
    assert who(c, "Will QUILLERBY") == {0}


FALSE_POSITIVES = [
    "{f} went to the shop",
    "the {s} family",
    "Zebedee {s}",
    "{f} Wolstenholme-Fairweather",
]


@pytest.mark.parametrize("template", FALSE_POSITIVES)
def test_half_a_name_or_another_persons_name_does_not_match(ctx, rows, template):
    """A forename or surname alone, or another forename with the surname, is no name hit."""
    r = rows[400]
    text = template.format(f=r.forenames, s=r.surname)
    assert 400 not in who(ctx, text)


def test_short_names_are_not_matched_fuzzily(key):
    """A typo in a name under five letters is not a hit (too many strangers are one edit away)."""
    from leakwatch.keys import Hasher
    from leakwatch.models import RosterRow
    from leakwatch.roster.enrol import context_from_enrolment, enrol_rows

    h = Hasher(key)
    row = RosterRow(line=2, staff_id="N1", forenames="Ynyr", surname="Kemp")
    c = context_from_enrolment(enrol_rows([row], h, ()), h)
    assert who(c, "Ynyr Kemp") == {0}
    assert who(c, "Ynyr Kamp") == set()


def test_common_names_are_weaker_than_rare_ones(pop_ctx, pop_rows):
    """Strength is a likelihood ratio: the commonest staff name scores below the rarest."""
    pop = pop_ctx.population
    freq = [(pop.forename(r.forenames.lower()) * pop.surname(r.surname.lower()), i) for i, r in enumerate(pop_rows)]
    common, rare = max(freq)[1], min(freq)[1]
    m = NameMatcher()

    def strength(i):
        r = pop_rows[i]
        evs = [e for e in m.match(prose(f"{r.forenames} {r.surname}"), pop_ctx) if e.staff == i]
        return max(e.log_lr for e in evs)

    assert strength(common) + 2 < strength(rare)


def test_snippets_are_masked(ctx, rows):
    """Evidence carries only masked snippets: first letter and stars."""
    r = rows[0]
    evs = list(NameMatcher().match(prose(f"{r.forenames} {r.surname}"), ctx))
    assert evs
    for ev in evs:
        assert r.surname.lower() not in ev.snippet.lower()
        assert ev.snippet.startswith(r.forenames[0].upper()) or ev.snippet.startswith(r.surname[0].upper())


def _swap(word: str, i: int) -> str:
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _initial_list(rows, extra: list[str]):
    """A surname + initial list: eight staff written exactly, then the given lines."""
    from synthetic import table

    body = [[r.surname.upper(), r.forenames[0], "PC"] for r in rows[:8]]
    body += [line.split(" | ") for line in extra]
    return table(["Surname", "Init", "Rank"], body)


def _long_surnamed(rows, start: int):
    return next((i, r) for i, r in enumerate(rows) if i >= start and len(r.surname) >= 7)


def test_misspelt_surname_beside_an_initial_matches_in_a_surname_initial_list(ctx, rows):
    """In a list of our staff by surname and initial, `Simth | J` (a swap) and a changed letter still find them."""
    i, r = _long_surnamed(rows, 100)
    k, q = _long_surnamed(rows, i + 1)
    changed = q.surname[:3] + ("x" if q.surname[3] != "x" else "y") + q.surname[4:]
    doc = _initial_list(rows, [f"{_swap(r.surname, 2)} | {r.forenames[0]} | PC", f"{changed} | {q.forenames[0]} | PC"])
    found = {(ev.staff, ev.kind, ev.fuzzy) for ev in NameMatcher().match(doc, ctx)}
    assert (i, "initial_name", True) in found
    assert (k, "initial_name", True) in found


def test_misspelt_surname_beside_an_initial_alone_is_not_looked_for(ctx, rows):
    """Outside a surname + initial list of ours (fewer than five such rows), no one-edit surname is tried."""
    from synthetic import table

    i, r = _long_surnamed(rows, 100)
    body = [[x.surname.upper(), x.forenames[0], "PC"] for x in rows[:3]]
    exact = {ev.staff for ev in NameMatcher().match(table(["Surname", "Init", "Rank"], body), ctx)}
    body.append([_swap(r.surname, 2), r.forenames[0], "PC"])
    found = {ev.staff for ev in NameMatcher().match(table(["Surname", "Init", "Rank"], body), ctx)}
    assert {0, 1, 2} <= exact and found == exact and i not in found


def test_misspelt_surname_needs_the_right_initial(ctx, rows):
    """A one-edit surname beside another initial is not that staff member."""
    i, r = _long_surnamed(rows, 100)
    other = next(c for c in "QXZJK" if c != r.forenames[0].upper() and all(
        not (x.surname == r.surname and x.forenames[0].upper() == c) for x in rows))
    doc = _initial_list(rows, [f"{_swap(r.surname, 2)} | {other} | PC"])
    assert i not in {ev.staff for ev in NameMatcher().match(doc, ctx)}


def test_letters_glued_to_digits_are_no_initials(ctx, rows):
    """`S2G 4JR` (a postcode) beside a staff surname is no "J <surname>"; a real initial there is."""
    from synthetic import table

    r = rows[12]
    i = r.forenames[0].upper()
    body = [[f"S2G 4{i}R", r.surname], [f"S{i}2 8LR", r.surname]]
    assert 12 not in {ev.staff for ev in NameMatcher().match(table(["Postcode", "Employer"], body), ctx)}
    found = {(ev.staff, ev.kind) for ev in NameMatcher().match(table(["Init", "Surname"], [[i, r.surname]]), ctx)}
    assert (12, "initial_name") in found
    # The same letter twice, glued once: the free one is still an initial.
    twice = table(["Init", "Surname", "Ref"], [[i, r.surname, f"4{i}"]])
    assert (12, "initial_name") in {(ev.staff, ev.kind) for ev in NameMatcher().match(twice, ctx)}


def test_word_spans_line_up_with_the_words():
    """The positions the matcher reports are those of the words it read, in any script."""
    from leakwatch.index import record_word_spans, record_words

    for text in ("Zoë O'Brien-Smith | S2G 4JR | x86 | EMP38252 | Ødegård", "SMITH J | O'Neill, JA"):
        assert [text[a:b] for a, b in record_word_spans(text)] == record_words(text)


class _Forgetful(dict):
    """A cache that keeps nothing."""

    def __setitem__(self, key, value):
        pass


def test_repeated_records_give_what_matching_each_anew_gives(ctx, rows):
    """Records with the same words (log lines, a list posted twice) reuse one record's matching:
    the evidence, its order and its positions are what matching every record anew gives."""
    from matchers.names import _state

    lines = []
    for k in range(40):
        r = rows[k % 7]
        lines += [f"{k} job done for {r.forenames} {r.surname}", f"  {r.surname.upper()}, {r.forenames[0]}.  x{k}",
                  f"{r.forenames} {r.surname[:2]}{r.surname[3:]} 4JR", "job finished"]
    doc = prose(*lines)
    state = _state(ctx)
    state["shapes"] = _Forgetful()
    ctx.end_document()
    each = NameMatcher().match(doc, ctx)
    state["shapes"] = {}
    ctx.end_document()
    shared = NameMatcher().match(doc, ctx)
    assert len(state["shapes"]) < len(lines) / 2  # reused
    assert shared == each and len(each) > 40
    assert {ev.record for ev in each} >= set(range(0, 160, 4))


def test_the_article_a_is_no_initial(ctx, rows):
    """"give a Smith" is not "A. Smith"; "A Smith" and "A. Smith" are."""
    i, r = next((i, r) for i, r in enumerate(rows) if r.forenames[0] in "Aa")
    assert i not in who(ctx, f"they met a {r.surname} yesterday")
    assert i in who(ctx, f"they met A {r.surname} yesterday")
    assert i in who(ctx, f"signed A. {r.surname}")


def test_misspelt_surnames_are_not_looked_for_in_a_long_text_with_a_few_initial_rows(ctx, rows):
    """Five surname + initial rows among hundreds of other lines are no list of ours."""
    i, r = _long_surnamed(rows, 100)
    lines = [f"{x.surname.upper()} {x.forenames[0]}" for x in rows[:6]]
    lines += [f"line {k} of the minutes, nothing else" for k in range(400)]
    lines.append(f"{_swap(r.surname, 2)} {r.forenames[0]}")
    assert i not in {ev.staff for ev in NameMatcher().match(prose(*lines), ctx)}
    assert i in {ev.staff for ev in NameMatcher().match(prose(*lines[:6], lines[-1]), ctx)}


def test_lower_case_words_in_running_text_with_capitals_are_no_name(ctx, rows):
    """In a line with capitals, "john smith" in lower case is two words; a line all in lower
    case, a capitalised name, and a table cell are still read as names."""
    from synthetic import table

    r = rows[4]
    f, s = r.forenames.lower(), r.surname.lower()
    assert 4 not in who(ctx, f"Meeting notes: {f} {s} were discussed")
    assert 4 in who(ctx, f"meeting notes: {f} {s} were discussed")
    assert 4 in who(ctx, f"Meeting notes: {r.forenames} {r.surname} attended")
    assert 4 in {ev.staff for ev in NameMatcher().match(table(["Name", "Note"], [[f"{f} {s}", "Seen"]]), ctx)}
    assert 4 in who(ctx, f"{f}.{s}7@mail.example.com:Summer2024")  # an address's names are in lower case


def test_a_typo_that_makes_another_roster_name_is_looked_for_outside_long_lists(key):
    """"Mario Quennell" for staff Maria Quennell, where Mario is another staff member's name: found
    in prose and in a short table; in a row of a long list such typos are not tried (the cost of
    trying every roster name beside every other is half of matching a list)."""
    from leakwatch.keys import Hasher
    from leakwatch.roster.enrol import context_from_enrolment, enrol_rows
    from synthetic import make_rows, table

    staff = make_rows(2)
    staff[0].forenames, staff[0].surname = "Maria", "Quennell"
    staff[1].forenames, staff[1].surname = "Mario", "Thistlewood"
    hasher = Hasher(key)
    small = context_from_enrolment(enrol_rows(staff, hasher, ()), hasher)

    def found(doc):
        return {(ev.staff, ev.fuzzy) for ev in NameMatcher().match(doc, small)}

    assert (0, True) in found(prose("Posted: Mario Quennell, response team"))
    assert (0, True) in found(table(["Name", "Team"], [["Mario Quennell", "Response"]]))
    filler = [[f"Person {k}", "Response"] for k in range(60)]
    assert (0, True) not in found(table(["Name", "Team"], [["Mario Quennell", "Response"]] + filler))
