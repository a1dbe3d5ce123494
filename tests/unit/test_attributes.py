"""Rank and unit agreement between a record and namesakes on the roster."""

from __future__ import annotations

from leakwatch.attributes import MISMATCH, RosterAttributes, canonical_rank


def test_rank_spellings_share_one_canonical_form():
    assert {canonical_rank(s) for s in ("PC", "Police Constable", "constable", "p.c.")} == {"pc"}
    assert {canonical_rank(s) for s in ("DS", "Det Sgt", "Detective Sergeant")} == {"ds"}
    assert canonical_rank("Chief Inspector") == canonical_rank("Ch Insp") != canonical_rank("Inspector")
    assert canonical_rank("Band D") == "band d"  # a staff grade outside the vocabulary is kept folded
    assert canonical_rank("") is None and canonical_rank(None) is None


def _attrs():
    # 0: PC/Response, 1: DS/CID, 2: PC/CID, 3: no rank or unit, 4..9: PCs in Response (shares: PC 0.8)
    ranks = ["PC", "DS", "PC", None] + ["PC"] * 6
    units = ["Response", "Criminal Investigation Department", "Criminal Investigation Department", None] \
        + ["Response"] * 6
    return RosterAttributes(ranks, units)


def test_agreeing_rank_weighs_by_its_rarity_and_a_different_one_is_discounted():
    a = _attrs()
    f = a.factors("SMITH | J | Detective Sergeant | Lewisham", [0, 1])
    assert f[1] == 1 / 0.1 and f[0] == MISMATCH
    f = a.factors("SMITH | J | PC | Lewisham", [0, 1])
    assert f[0] == 1 / 0.8 and f[1] == MISMATCH


def test_unit_found_by_name_or_acronym():
    a = _attrs()
    f = a.factors("Smith J, PC, CID", [0, 2])
    assert f[2] > f[0]  # same rank; the unit (by its acronym) decides
    f = a.factors("Smith J, PC, criminal investigation department", [0, 2])
    assert f[2] > f[0]
    # "Departmental" is another word: no unit is stated, only the (shared) rank
    assert a.factors("Smith J, PC, Criminal Investigation Departmental", [0, 2]) == {0: 1 / 0.8, 2: 1 / 0.8}


def test_nothing_stated_or_one_candidate_changes_nothing():
    a = _attrs()
    assert a.factors("Smith J, Lewisham", [0, 1, 2]) == {0: 1.0, 1: 1.0, 2: 1.0}
    assert a.factors("Smith J, DS, CID", [0]) == {0: 1.0}


def test_staff_without_a_rank_are_not_penalised():
    a = _attrs()
    f = a.factors("Smith J | PC | Response", [0, 3])
    assert f[3] == 1.0 and f[0] == 1 / 0.8 * 1 / 0.7


def test_words_inside_other_words_are_not_ranks_or_units():
    a = _attrs()
    assert a.factors("Smith J | PCS | Responsed", [0, 1]) == {0: 1.0, 1: 1.0}
