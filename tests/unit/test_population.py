"""The name population reference: joint chances by origin, floors, the custom-table format."""

from __future__ import annotations

import random

import pytest

from leakwatch.population import Population, load_population


def test_names_of_one_origin_are_likelier_together_than_apart():
    """A forename and surname of the same small origin are far likelier as a pair than independence says."""
    pop = load_population()
    joint = pop.pair(["ikenna"], "ihejirika")
    assert joint > 20 * pop.forename("ikenna") * pop.surname("ihejirika")


def test_unlisted_names_take_the_floor():
    """A name the table lacks gets half the smallest listed frequency, not zero."""
    pop = load_population()
    assert pop.get("surname", "zzxqvw") is None
    assert 0 < pop.surname("zzxqvw") == pop.FLOOR_SURNAME
    assert pop.pair(["zzxqvw"], "zzxqvw") > 0


def test_initial_chances_sum_to_one():
    """Initial letters' chances are a distribution over the forename table."""
    pop = load_population()
    assert sum(pop.initial(c) for c in "abcdefghijklmnopqrstuvwxyz") == pytest.approx(1.0, abs=0.02)


def test_a_force_table_in_the_three_column_format_loads(tmp_path):
    """kind<TAB>name<TAB>freq works as a one-origin table."""
    f = tmp_path / "pop.tsv"
    f.write_text("forename\tAlys\t0.5\nforename\tBran\t0.5\nsurname\tKemp\t1.0\n")
    pop = Population(f)
    assert pop.forename("alys") == 0.5
    assert pop.pair(["alys"], "kemp") == pytest.approx(0.5)


def test_a_malformed_table_names_the_line(tmp_path):
    """A bad probability is an error naming file and line."""
    f = tmp_path / "pop.tsv"
    f.write_text("forename\tAlys\t0.5\nsurname\tKemp\tlots\n")
    with pytest.raises(ValueError, match="line 2"):
        Population(f).forename("alys")


def test_sampled_people_follow_the_table():
    """The sampler draws the commonest surname about as often as the table says."""
    pop = load_population()
    draw = pop.sampler(random.Random(1))
    n = 20000
    smiths = sum(1 for _ in range(n) if draw()[1] == "smith")
    assert abs(smiths / n - pop.surname("smith")) < 0.005
