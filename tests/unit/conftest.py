"""Unit fixtures: the hashed roster built in memory from an enrolment (no database)."""

from __future__ import annotations

import pytest

from leakwatch.keys import Hasher
from leakwatch.roster.enrol import context_from_enrolment, enrol_rows
from synthetic import make_rows, population_rows

SENSITIVE = ("Counter Terrorism Command",)


@pytest.fixture(scope="session")
def rows():
    return make_rows(2000)


def _context(rows, key):
    hasher = Hasher(key)
    return context_from_enrolment(enrol_rows(rows, hasher, SENSITIVE), hasher,
                                  force_domains=("force.example.police.uk",), sensitive_units=SENSITIVE)


@pytest.fixture(scope="session")
def ctx(rows, key):
    """Context over 2,000 staff with made-up (rare) names."""
    return _context(rows, key)


@pytest.fixture(scope="session")
def pop_rows():
    return population_rows(5000)


@pytest.fixture(scope="session")
def pop_ctx(pop_rows, key):
    """Context over 5,000 staff whose names follow population frequencies."""
    return _context(pop_rows, key)
