"""E-mail and credential matchers: roster addresses, force domains, passwords never kept."""

from __future__ import annotations

import pytest

from matchers.credentials import CredentialMatcher
from matchers.emails import EmailMatcher
from synthetic import prose, table


def emails(ctx, text):
    return [(e.kind, e.staff) for e in EmailMatcher().match(prose(text), ctx)]


@pytest.mark.parametrize("form", [
    lambda a: a,
    lambda a: a.upper(),
    lambda a: a.replace("@", " [at] ").replace(".", " (dot) "),
    lambda a: f"<{a}>",
])
def test_roster_addresses_match_in_obfuscated_forms(ctx, rows, form):
    """Upper case, [at]/(dot) and angle brackets fold to the enrolled address."""
    assert ("email", 3) in emails(ctx, f"contact {form(rows[3].email)} today")


def test_force_domain_address_not_on_roster_is_reported_without_a_person(ctx):
    """An address at a force domain that no staff member holds is force_email, staff None."""
    assert emails(ctx, "x.nobody@force.example.police.uk") == [("force_email", None)]


def test_other_domains_are_ignored(ctx):
    """Addresses elsewhere are not evidence."""
    assert emails(ctx, "someone@example.org and a@b.co") == []


def creds(ctx, doc):
    return list(CredentialMatcher().match(doc, ctx))


@pytest.mark.parametrize("sep", [":", ";", " | ", "\t", " "])
def test_address_with_password_is_a_credential(ctx, rows, sep):
    """email:pass, email;pass, email | pass and whitespace forms are credentials."""
    found = creds(ctx, prose(f"{rows[4].email}{sep}Summer2026!"))
    assert [(e.kind, e.staff) for e in found] == [("credential", 4)]


def test_password_never_reaches_the_evidence(ctx, rows):
    """The password is not in the snippet or detail, not even partly."""
    (ev,) = creds(ctx, prose(f"{rows[4].email}:Tr0ub4dor&3"))
    assert "Tr0ub" not in ev.snippet + ev.detail
    assert rows[4].email not in ev.snippet


def test_password_column_in_a_table_makes_credentials(ctx):
    """A table with a password column marks force addresses in it."""
    doc = table(["email", "password"], [["pc.nobody@force.example.police.uk", "hunter22"]])
    assert [(e.kind, e.detail) for e in creds(ctx, doc)] == [("credential", "force domain")]


@pytest.mark.parametrize("text", [
    "alice@example.org:hunter22",  # not a force address
    "x@force.example.police.uk",  # no password
    "write to x@force.example.police.uk: http://example.org",  # a URL is not a password
    "please email x@force.example.police.uk, thanks",  # prose after a comma
    "contact x@force.example.police.uk today",  # prose after a space
])
def test_not_credentials(ctx, text):
    """Other domains, bare addresses, URLs after a colon and prose after an address are not credentials."""
    assert creds(ctx, prose(text)) == []


def test_a_staff_list_with_addresses_is_not_a_credential_dump(ctx, rows):
    """The unit beside an address in a headed table is not a password: only a password column is."""
    doc = table(["name", "email", "unit", "rank"],
                [[f"{r.forenames} {r.surname}", r.email, "Custody", r.rank] for r in rows[:10]])
    assert creds(ctx, doc) == []


def test_a_headerless_table_of_address_and_password_is_one(ctx, rows):
    doc = table([], [[rows[5].email, "Qw3rty!x"], [rows[6].email, "Spring 2026"]])
    doc.records[0].headers = doc.records[1].headers = None
    first = next(i for i, r in enumerate(rows) if r.email == rows[5].email)  # made-up names repeat
    assert [(e.kind, e.staff) for e in creds(ctx, doc)] == [("credential", first)], "a cell with a space is no password"


def test_address_records_are_each_records_addresses():
    """The one search of a document finds the records, and addresses, that reading each finds."""
    import random

    from matchers.emails import _address_records, addresses

    rng = random.Random(5)
    pieces = ["j.smith@met.example.police.uk", "a [at] b (dot) org", "A(AT)B.ORG", "@decorator", "x@y",
              "mail me", "user@@host.com", "[at", "dot]", "café@exämple.com", "pass:word", ""]
    texts = [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) for _ in range(400)]
    want = {r: found for r, t in enumerate(texts) if (found := list(addresses(t)))}
    assert _address_records(texts) == want and len(want) > 50
    assert _address_records(["no address here", "none"]) == {}
