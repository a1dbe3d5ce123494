"""Suppliers on the watch list named on ransomware leak sites: matches, near misses, severity."""

from __future__ import annotations

import dataclasses

import pytest

from leakwatch.extract import extract_bytes
from leakwatch.models import Document, Record, Severity, SourceSettings
from leakwatch.scan import Scanner
from matchers.suppliers import SupplierMatcher, words_of
from sources.ransomware import RansomwareLiveSource, RansomwatchSource
from synthetic import prose, table

WATCH = ("Acme Card Systems Ltd", "Brindlewood Payroll Bureau Limited", "Northgate Print Services plc",
         "Quillon & Hart GmbH", "Orbis Data LLC", "vetcheck.example")


@pytest.fixture(scope="module")
def sctx(ctx):
    return dataclasses.replace(ctx, suppliers=WATCH)


def posting(victim: str, group: str = "blackfin", domain: str = "") -> Document:
    lines = [f"ransomware group: {group}", f"victim: {victim}"]
    if domain:
        lines.append(f"victim domain: {domain}")
    return prose(*lines, "discovered: 2024-05-01T10:00:00+00:00", "tracker: ransomwatch", source="posting.txt")


def found(doc: Document, ctx) -> list[str]:
    return [e.detail for e in SupplierMatcher().match(doc, ctx)]


@pytest.mark.parametrize("victim, supplier", [
    ("Acme Card Systems", "Acme Card Systems Ltd"),
    ("ACME CARD SYSTEMS LIMITED", "Acme Card Systems Ltd"),
    ("Acme Card System", "Acme Card Systems Ltd"),  # one edit in a long word
    ("Card Systems Acme Ltd.", "Acme Card Systems Ltd"),  # word order
    ("AcmeCardSystems", "Acme Card Systems Ltd"),  # run together
    ("acmecardsystems.example", "Acme Card Systems Ltd"),  # a domain registered under the name
    ("Brindlewood Payrol Bureau", "Brindlewood Payroll Bureau Limited"),
    ("Northgate Print Services", "Northgate Print Services plc"),
    ("Quillon and Hart", "Quillon & Hart GmbH"),
    ("Orbis Data, LLC", "Orbis Data LLC"),
    ("Orbis Data (orbisdata.example)", "Orbis Data LLC"),
    ("vetcheck.example", "vetcheck.example"),
    ("hr.vetcheck.example", "vetcheck.example"),  # a subdomain of a supplier domain
])
def test_victim_names_and_domains_that_are_a_supplier_match(sctx, victim, supplier):
    ev = list(SupplierMatcher().match(posting(victim), sctx))
    assert [e.detail for e in ev] == [f"supplier: {supplier}"]
    assert ev[0].kind == "supplier" and ev[0].staff is None and ev[0].record == 1 and ev[0].log_lr > 0
    start, end = ev[0].span
    assert 0 <= start < end <= len(posting(victim).records[1].text)


@pytest.mark.parametrize("victim", [
    "Acme Cards",  # vs Acme Card Systems / the Acme Carpets family of near misses
    "Acme Carpets",
    "Acme",
    "Acme Card Solutions",
    "Northgate Paint Services",  # one letter, but a different (short) word
    "Brindlewood Payroll",
    "Quillon Hart Bates",
    "Orbis Date",
    "Orbital Data",
    "notvetcheck.example",
    "vetcheck.example.attacker.example",
])
def test_near_misses_do_not_match(sctx, victim):
    assert found(posting(victim), sctx) == []


def test_victim_domain_line_matches_a_supplier_domain(sctx):
    assert found(posting("Some Holding Company", domain="portal.vetcheck.example"), sctx) == ["supplier: vetcheck.example"]


def test_same_victim_in_both_directions_with_a_carpets_supplier():
    """'Acme Cards' vs 'Acme Carpets' fails whichever side is on the watch list."""
    from leakwatch.index import MatchContext

    base = MatchContext(hasher=None)
    carpets = dataclasses.replace(base, suppliers=("Acme Carpets plc",))
    cards = dataclasses.replace(base, suppliers=("Acme Cards Ltd",))
    assert found(posting("Acme Cards"), carpets) == []
    assert found(posting("Acme Carpets"), cards) == []
    assert found(posting("Acme Carpets Limited"), carpets) == ["supplier: Acme Carpets plc"]
    assert found(posting("ACME CARDS"), cards) == ["supplier: Acme Cards Ltd"]


def test_only_postings_are_read(sctx):
    # A contract register naming the supplier has no victim/group lines or columns: nothing.
    register = table(["Supplier", "Contract", "Company"], [["Acme Card Systems Ltd", "ID cards", "Acme Card Systems"]])
    assert found(register, sctx) == []
    assert found(prose("We renewed the contract with Acme Card Systems Ltd.", "victim: Acme Card Systems"), sctx) == []
    # A tracker export (posts.json as a table: victim and group columns) is read.
    export = table(["post_title", "group_name", "discovered"],
                   [["Unrelated Widgets", "blackfin", "2024-05-01"], ["Acme Card Systems", "blackfin", "2024-05-02"]],
                   source="posts.json")
    ev = list(SupplierMatcher().match(export, sctx))
    assert [(e.record, e.detail) for e in ev] == [(1, "supplier: Acme Card Systems Ltd")]


def test_no_watch_list_no_evidence_and_no_entries(ctx, rows):
    assert found(posting("Acme Card Systems"), ctx) == []
    assert list(SupplierMatcher().entries(rows[0], ctx)) == []


def test_legal_suffixes_and_punctuation_fold_away():
    assert words_of("The Acme Card-Systems Ltd.") == ("acme", "card", "systems")
    assert words_of("Quillon & Hart GmbH") == ("quillon", "and", "hart")
    assert words_of("Limited") == ("limited",)  # a suffix alone is kept: the name is not emptied


def scan_posting(body: bytes, ctx):
    (doc,) = list(extract_bytes(body, "posting.txt"))
    return Scanner(ctx).scan_document(doc)


def test_supplier_on_a_leak_site_is_high_with_a_plain_reason(sctx):
    src = RansomwareLiveSource(SourceSettings(name="rl", kind="ransomware_live"))
    body = src._posting({"victim": "Acme Card Systems", "group": "blackfin", "discovered": "2024-05-01 10:00:00.0",
                         "domain": "acmecards.example", "description": "200GB taken"}).body(src.tracker)
    finding = scan_posting(body, sctx)
    assert finding.severity == Severity.HIGH
    assert ("a supplier on the watch list (Acme Card Systems Ltd) named on a ransomware leak site "
            "(group: blackfin)") in finding.reasons
    assert "severity: a supplier named on a ransomware leak site" in finding.reasons


def test_near_miss_posting_is_not_a_finding(sctx):
    src = RansomwatchSource(SourceSettings(name="rw", kind="ransomwatch"))
    body = src._posting({"post_title": "Acme Carpets", "group_name": "blackfin",
                         "discovered": "2024-05-01 10:00:00.0"}).body(src.tracker)
    finding = scan_posting(body, sctx)
    assert finding.severity == Severity.NONE
    assert not any("supplier" in r for r in finding.reasons)


def test_supplier_rule_never_lowers_a_higher_severity(sctx, rows):
    """Staff data in the posting itself keeps its own (higher) severity; the supplier reason is added."""
    staff = [f"{r.forenames} {r.surname} | {r.rank} | {r.unit}" for r in rows[:40]]
    doc = prose("ransomware group: blackfin", "victim: Acme Card Systems", "", "sample of the data:", *staff)
    finding = Scanner(sctx).scan_document(doc)
    plain = Scanner(sctx).scan_document(prose("sample of the data:", *staff))
    assert finding.severity == max(plain.severity, Severity.HIGH)
    assert finding.reasons[0].startswith("a supplier on the watch list (Acme Card Systems Ltd)")


def test_group_is_read_from_a_tracker_table(sctx):
    export = table(["victim", "group", "discovered"], [["Orbis Data", "quietstorm", "2024-05-02"]], source="v.json")
    finding = Scanner(sctx).scan_document(export)
    assert finding.severity == Severity.HIGH
    assert finding.reasons[0] == ("a supplier on the watch list (Orbis Data LLC) named on a ransomware leak site "
                                  "(group: quietstorm)")


def test_document_record_shape_is_what_the_sources_write():
    """The sources' body lines are the records the matcher reads (one record per line)."""
    src = RansomwatchSource(SourceSettings(name="rw", kind="ransomwatch"))
    body = src._posting({"post_title": "Orbis Data LLC", "group_name": "quietstorm",
                         "discovered": "2024-05-01 10:00:00.0"}).body(src.tracker)
    (doc,) = list(extract_bytes(body, "posting.txt"))
    assert [r.text for r in doc.records[:2]] == ["ransomware group: quietstorm", "victim: Orbis Data LLC"]
    assert isinstance(doc.records[0], Record)
