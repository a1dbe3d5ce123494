"""The evidence model: per-record likelihoods, chance correction, and each severity rule."""

from __future__ import annotations

import random

import numpy as np

from leakwatch.engine import glr
from leakwatch.models import Severity
from leakwatch.scan import Scanner
from synthetic import population_sampler, prose, table


def scan(ctx, doc):
    return Scanner(ctx).scan_document(doc)


def test_glr_is_zero_when_records_fit_chance():
    """Records whose likelihood ratios average 1 (what chance gives) score about 0."""
    r = np.log10(np.array([21.0] * 5))
    score, pi = glr(r, 105)  # 5 hits of 21 in 105 rows: exactly what chance predicts
    assert score == 0.0 and pi == 1.0


def test_glr_grows_with_rows_beyond_chance():
    """More strongly matching rows than chance explains raise the score."""
    few, _ = glr(np.full(5, 4.0), 100)
    many, _ = glr(np.full(40, 4.0), 100)
    assert 0 < few < many


def test_name_with_pay_number_in_one_record_pages(pop_ctx, pop_rows):
    """A staff member's name and pay number in the same record is high."""
    r = pop_rows[10]
    f = scan(pop_ctx, prose("some text", f"{r.forenames} {r.surname} pay no {r.pay_number}", "more text"))
    assert f.severity >= Severity.HIGH
    assert f.staff[0].ref == pop_ctx.index.table.refs[10]
    assert {"name", "pay_number"} <= set(f.staff[0].kinds)


def test_name_and_number_in_different_records_do_not_page(pop_ctx, pop_rows):
    """The same name and number far apart (different records) are not bound together."""
    r = pop_rows[10]
    lines = [f"{r.forenames} {r.surname} was here"] + ["filler line"] * 30 + [f"order {r.pay_number}"]
    assert scan(pop_ctx, prose(*lines)).severity < Severity.HIGH


def test_pay_number_alone_is_weak(pop_ctx, pop_rows):
    """A lone pay number is at most low: the number space is partly full."""
    assert scan(pop_ctx, prose(f"invoice {pop_rows[3].pay_number}")).severity <= Severity.LOW


def test_lone_name_is_at_most_medium(pop_ctx, pop_rows):
    """A full name alone never pages, however rare."""
    for r in pop_rows[:50]:
        assert scan(pop_ctx, prose(f"{r.forenames} {r.surname}")).severity <= Severity.MEDIUM


def _staff_table(rows, with_pay=False):
    heads = ["Surname", "Forename", "Rank", "Unit"] + (["Pay No"] if with_pay else [])
    body = [[r.surname, r.forenames, r.rank, r.unit] + ([r.pay_number] if with_pay else []) for r in rows]
    return table(heads, body)


def test_list_of_forty_staff_names_is_critical(pop_ctx, pop_rows):
    """40 staff names with rank and unit columns, no identifiers: a bulk leak."""
    f = scan(pop_ctx, _staff_table(pop_rows[100:140]))
    assert f.severity == Severity.CRITICAL
    assert len(f.staff) >= 35


def test_list_of_other_people_of_the_same_shape_is_not_a_page(pop_ctx, pop_rows):
    """40 strangers from the same name distribution, same columns: chance matches only, no page."""
    person = population_sampler(999)
    staff_names = {(r.forenames.lower(), r.surname.lower()) for r in pop_rows}
    scores = []
    for trial in range(10):
        people = []
        while len(people) < 40:
            fn, sn = person()
            if (fn.lower(), sn.lower()) not in staff_names:  # chance collisions are tested below
                people.append(type(pop_rows[0])(line=0, staff_id="x", forenames=fn, surname=sn, rank="PC", unit="Response"))
        f = scan(pop_ctx, _staff_table(people))
        scores.append(f.score)
        assert f.severity < Severity.HIGH


def test_strangers_sharing_staff_names_by_chance_do_not_page(pop_ctx, pop_rows):
    """A list of 400 strangers drawn from the population, collisions with staff names included, is no page."""
    person = population_sampler(4242)
    people = [person() for _ in range(400)]
    doc = table(["Name", "Rank"], [[f"{fn} {sn}", "PC"] for fn, sn in people])
    f = scan(pop_ctx, doc)
    assert f.severity < Severity.HIGH


def test_rare_names_outweigh_common_ones(pop_ctx, pop_rows):
    """The 40 rarest staff names score higher than the 40 commonest."""
    pop = pop_ctx.population
    by_freq = sorted(pop_rows, key=lambda r: pop.forename(r.forenames.lower()) * pop.surname(r.surname.lower()))
    rare = scan(pop_ctx, _staff_table(by_freq[:40])).score
    common = scan(pop_ctx, _staff_table(by_freq[-40:])).score
    assert rare > common


def test_surname_and_initial_list_is_critical(pop_ctx, pop_rows):
    """A PSNI-style list (surname, initial, rank, station) of 300 staff is critical."""
    doc = table(["Surname", "Initial", "Rank", "Station"],
                [[r.surname, r.forenames[0], r.rank, "Northgate"] for r in pop_rows[500:800]])
    assert scan(pop_ctx, doc).severity == Severity.CRITICAL


def test_same_shape_surname_initial_list_of_strangers_is_no_page(pop_ctx):
    """300 strangers as surname + initial: no page."""
    person = population_sampler(77)
    rows = []
    for _ in range(300):
        fn, sn = person()
        rows.append([sn, fn[0], "PC", "Northgate"])
    assert scan(pop_ctx, table(["Surname", "Initial", "Rank", "Station"], rows)).severity < Severity.HIGH


def test_few_staff_hidden_in_a_long_list_page(pop_ctx, pop_rows):
    """Five staff with pay numbers among 2,000 strangers still page."""
    person = population_sampler(5)
    rng = random.Random(5)
    body = []
    for _ in range(2000):
        fn, sn = person()
        body.append([sn, fn, str(rng.randint(100000, 999999))])
    for k, r in enumerate(pop_rows[900:905]):
        body.insert(300 * k + 7, [r.surname, r.forenames, r.pay_number])
    f = scan(pop_ctx, table(["Surname", "Forename", "Employee No"], body))
    assert f.severity >= Severity.HIGH
    found = {s.ref for s in f.staff}
    assert {pop_ctx.index.table.refs[i] for i in range(900, 905)} <= found


def test_random_number_list_is_no_page(pop_ctx):
    """1,000 random 6-digit numbers hit pay numbers only as often as chance predicts."""
    rng = random.Random(3)
    f = scan(pop_ctx, prose(*[str(rng.randint(100000, 999999)) for _ in range(1000)]))
    assert f.severity <= Severity.LOW


def test_force_credentials_are_high(pop_ctx):
    """A force-domain address with a password beside it is high at least."""
    f = scan(pop_ctx, prose("dump:", "someone.new@force.example.police.uk:Winter2026"))
    assert f.severity >= Severity.HIGH
    assert f.credentials and "Winter2026" not in str(f.to_json())


def test_sensitive_unit_staff_with_identifier_is_critical(ctx, rows):
    """A counter-terrorism officer's name with a pay number is critical."""
    i = next(i for i, r in enumerate(rows) if r.unit == "Counter Terrorism Command")
    r = rows[i]
    assert ctx.index.table.sensitive[i]
    f = scan(ctx, prose(f"{r.forenames} {r.surname} {r.pay_number}"))
    assert f.severity == Severity.CRITICAL


def test_benign_text_is_none(pop_ctx):
    """Prose with no staff data scores nothing."""
    f = scan(pop_ctx, prose("The build failed on Tuesday.", "Retry with the cache cleared.", "Version 1234567."))
    assert f.severity == Severity.NONE and f.staff == []


def test_reasons_are_plain_words_without_values(pop_ctx, pop_rows):
    """Reasons say how many staff, in what shape, by which kinds, and quote no value."""
    rows = pop_rows[100:140]
    f = scan(pop_ctx, _staff_table(rows, with_pay=True))
    text = " ".join(f.reasons)
    assert "staff members in a 40-row table" in text and "by pay number" in text
    for r in rows:
        assert r.surname not in text and r.pay_number not in text


def test_identifier_a_few_lines_below_the_name_binds_to_it(pop_ctx, pop_rows):
    """A dox card ("Name: ..." then "Pay no: ...") is one person: high."""
    r = pop_rows[20]
    doc = prose("==== DOX ====", f"Name: {r.forenames} {r.surname}", f"Rank: {r.rank}", f"Pay no: {r.pay_number}",
                "Spread this.")
    f = scan(pop_ctx, doc)
    assert f.severity >= Severity.HIGH
    assert {"name", "pay_number"} <= set(f.staff[0].kinds)


def test_identifier_far_from_the_name_stays_apart(pop_ctx, pop_rows):
    """Beyond a few lines, a name and a number are not bound together."""
    r = pop_rows[20]
    doc = prose(f"Name: {r.forenames} {r.surname}", *["filler"] * 20, f"ref {r.pay_number}")
    assert scan(pop_ctx, doc).severity < Severity.HIGH


def test_namesakes_in_a_list_that_is_surely_ours_are_all_listed(key):
    """Two staff share "A. Penhallow": in a critical list, both are reported, each at half confidence."""
    from leakwatch.keys import Hasher
    from leakwatch.models import RosterRow
    from leakwatch.roster.enrol import context_from_enrolment, enrol_rows
    from synthetic import make_rows

    rows = make_rows(400, seed=3)[:300]
    rows += [RosterRow(line=900, staff_id="Z1", forenames="Alys", surname="Quillerbyne"),
             RosterRow(line=901, staff_id="Z2", forenames="Aled", surname="Quillerbyne")]
    h = Hasher(key)
    c = context_from_enrolment(enrol_rows(rows, h, ()), h)
    body = [[r.surname, r.forenames[0], "PC"] for r in rows[300:] + rows[:60]]
    f = scan(c, table(["Surname", "Initial", "Rank"], body))
    assert f.severity == Severity.CRITICAL
    by_ref = {s.ref: s.confidence for s in f.staff}
    z1, z2 = h.ref("Z1"), h.ref("Z2")
    assert z1 in by_ref and z2 in by_ref
    assert by_ref[z1] < 0.6 and by_ref[z2] < 0.6
    assert any("share the matched name" in r for r in f.reasons)


def test_two_identifiers_of_one_person_on_nearby_lines_page(pop_ctx, pop_rows):
    """Pay and warrant number of the same person two lines apart, name mistyped: still high."""
    r = pop_rows[30]
    doc = prose("==== DOX ====", "Name: Xqzwv Ytrewq", f"Pay no: {r.pay_number}", f"Warrant no: {r.warrant_number}",
                "Spread this.")
    f = scan(pop_ctx, doc)
    assert f.severity >= Severity.HIGH
    assert f.staff and {"pay_number", "warrant_number"} <= set(f.staff[0].kinds)


def _namesakes_ctx(key):
    """300 staff with made-up names plus two "A. Quillerbyne"s who differ in rank and unit."""
    from leakwatch.keys import Hasher
    from leakwatch.models import RosterRow
    from leakwatch.roster.enrol import context_from_enrolment, enrol_rows
    from synthetic import make_rows

    rows = make_rows(400, seed=3)[:300]
    rows += [RosterRow(line=900, staff_id="Z1", forenames="Alys", surname="Quillerbyne", rank="PC",
                       unit="Emergency Response"),
             RosterRow(line=901, staff_id="Z2", forenames="Aled", surname="Quillerbyne", rank="DS",
                       unit="Criminal Investigation Department")]
    h = Hasher(key)
    return h, rows, context_from_enrolment(enrol_rows(rows, h, ()), h)


def test_rank_and_unit_in_the_row_tell_namesakes_apart(key):
    """"Quillerbyne | A | Police Constable | Emergency Response" is the PC, not the DS of the same initial."""
    h, rows, c = _namesakes_ctx(key)
    others = [[r.surname, r.forenames[0], "PC", "Territorial Policing"] for r in rows[:60]]
    for rank, unit, meant, other in (("Police Constable", "Emergency Response", "Z1", "Z2"),
                                     ("Det Sgt", "CID", "Z2", "Z1")):
        f = scan(c, table(["Surname", "Initial", "Rank", "Unit"], others + [["QUILLERBYNE", "A", rank, unit]]))
        by_ref = {s.ref: s.confidence for s in f.staff}
        assert by_ref.get(h.ref(meant), 0) > 0.9, (rank, unit)
        assert h.ref(other) not in by_ref, (rank, unit)


def test_rank_and_unit_decide_who_not_whether(key):
    """The document score is the same whether the rows' ranks and units agree with the roster or not."""
    h, rows, c = _namesakes_ctx(key)
    body = [[r.surname, r.forenames[0]] for r in rows[:60]] + [["Quillerbyne", "A"]]
    agree = scan(c, table(["Surname", "Initial", "Rank", "Unit"], [b + ["PC", "Emergency Response"] for b in body]))
    differ = scan(c, table(["Surname", "Initial", "Rank", "Unit"], [b + ["Superintendent", "Marine Policing"] for b in body]))
    assert agree.score == differ.score
    assert agree.severity == differ.severity
    # With nothing to tell them apart, both namesakes are listed (see the test above this pair).
    assert {h.ref("Z1"), h.ref("Z2")} <= {s.ref for s in differ.staff}


def test_a_stated_pay_number_that_is_not_theirs_counts_against_the_name(pop_ctx, pop_rows):
    """Names beside pay numbers that are not those staff members' numbers weigh less than the names
    alone; beside their own numbers, more."""
    rows = pop_rows[100:130]
    names = [[r.forenames, r.surname] for r in rows]
    plain = scan(pop_ctx, table(["Forename", "Surname"], names))
    # Nine digits: no staff member's six-digit pay number is within one edit of them.
    wrong = scan(pop_ctx, table(["Forename", "Surname", "Pay"], [n + [str(700_000_001 + i * 7919)]
                                                                 for i, n in enumerate(names)]))
    right = scan(pop_ctx, table(["Forename", "Surname", "Pay"], [n + [r.pay_number] for n, r in zip(names, rows)]))
    assert wrong.score < plain.score < right.score
    # A column of other numbers that is no pay or warrant number says nothing against anyone.
    phone = scan(pop_ctx, table(["Forename", "Surname", "Phone"], [n + [f"0770090{i:04d}"] for i, n in enumerate(names)]))
    assert phone.score == plain.score


def test_a_staff_member_without_a_warrant_number_is_not_contradicted_by_one(key):
    """Police staff have no warrant number: a warrant column in their row holds nothing against them."""
    from leakwatch.keys import Hasher
    from leakwatch.models import RosterRow
    from leakwatch.roster.enrol import context_from_enrolment, enrol_rows

    rows = [RosterRow(line=2, staff_id="A1", forenames="Ottoline", surname="Quarrendon", pay_number="481516"),
            RosterRow(line=3, staff_id="A2", forenames="Peregrine", surname="Wyvernhall", pay_number="623342",
                      warrant_number="7712345")]
    h = Hasher(key)
    c = context_from_enrolment(enrol_rows(rows, h, ()), h)
    doc = table(["Forename", "Surname", "Warrant No"], [["Ottoline", "Quarrendon", "9900112"],
                                                        ["Peregrine", "Wyvernhall", "9900113"]])
    f = scan(c, doc)
    conf = {s.ref: s.log_lr for s in f.staff}
    assert conf[h.ref("A1")] > conf[h.ref("A2")]
