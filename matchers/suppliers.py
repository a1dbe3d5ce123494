"""Suppliers: the force's suppliers named as victims on ransomware leak sites.

A breached supplier (the warrant-card printer, the payroll bureau, the vetting
contractor) is how staff data leaks before any of it is posted. The watch list
(`[match] suppliers`) holds public company names or domains, in plaintext: they
are not roster data, so rapidfuzz may compare them.

Only documents shaped like leak-site postings are read:

- lines `victim: ...`, `victim domain: ...`, `domain: ...`, `website: ...`,
  `post title: ...` in a document that has both a victim line and a group line
  (`ransomware group: ...`, `group: ...`): what the ransomwatch and ransomware.live
  sources write, and what tracker bots post;
- tables and JSON objects with both a victim column (`victim`, `post_title`) and a
  group column (`group`, `group_name`): tracker exports dropped into a folder or pasted.

A staff list or contract register that merely names a supplier is not read: it has no
group column, and a supplier named there is not a supplier breached.

A victim name matches a supplier name when, after folding case, diacritics and
punctuation and dropping legal suffixes (Ltd, Limited, plc, Inc, GmbH, LLC, ...),
rapidfuzz's ratio or token-sort ratio is at least `CUTOFF` and every word of each
name has a counterpart in the other (words under 6 letters exactly, longer ones
within one edit), so "Acme Card System" finds "Acme Card Systems Ltd" but
"Acme Cards" does not find "Acme Carpets". Names run together ("AcmeCardSystems",
a domain label "acmecardsystems") match only exactly. A victim domain matches a
supplier domain when it equals it or is a subdomain of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from leakwatch.index import MatchContext
from leakwatch.models import Document, Evidence, Record, RosterRow
from leakwatch.normalise import fold

CUTOFF = 90  # rapidfuzz score, 0-100
EXACT_WORD = 6  # words shorter than this must match exactly; longer ones within one edit
SUPPLIER_LR = 3.0  # log10; the engine does not combine it with staff evidence (its own severity rule)
MAX_VALUE = 200  # characters of a field value read as a victim name

LEGAL_SUFFIXES = frozenset({
    "ltd", "limited", "plc", "inc", "incorporated", "gmbh", "llc", "llp", "lp", "corp", "corporation",
    "co", "company", "sa", "sas", "sarl", "ag", "bv", "nv", "pty", "srl", "spa", "ab", "as", "oy",
    "kk", "kg", "se", "group", "holdings", "holding", "uk",
})
# Second-level labels under which companies register ("acme.co.uk", "acme.com.au"): not a name.
_PUBLIC_LABELS = frozenset({"co", "com", "org", "net", "gov", "edu", "ac", "ltd", "plc", "sch", "nhs",
                            "police", "mod", "me", "biz", "info"})

# "label: value" lines; labels as the tracker sources write them, and their raw JSON names.
_LINE = re.compile(r"^\s*([a-z][a-z _-]{1,24}?)\s*:\s*(\S.*?)\s*$", re.I)
# Labels and column headers are compared folded, with "_" and "-" read as spaces.
GROUP_LABELS = frozenset({"ransomware group", "group", "group name", "gang"})
VICTIM_LABELS = frozenset({"victim", "victim name", "post title"})
DOMAIN_LABELS = frozenset({"victim domain", "domain", "website"})

_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
_DOMAIN_IN_TEXT = re.compile(r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b", re.I)
_NON_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class _Supplier:
    label: str  # as written on the watch list: the public name shown in findings
    words: tuple[str, ...]  # processed words ("acme", "card", "systems"); () for a domain entry
    domain: str | None  # "acmecards.example" when the entry is a domain

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def compact(self) -> str:
        return "".join(self.words)


def words_of(name: str) -> tuple[str, ...]:
    """A company name folded into comparable words: case, diacritics, punctuation, "&", legal suffixes."""
    text = fold(name).replace("&", " and ")
    words = [w for w in _NON_WORD.split(text) if w]
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return tuple(words)


def as_domain(value: str) -> str | None:
    """The host of a domain-like value ("https://www.acme.example/x" -> "acme.example"), else None."""
    v = fold(value.strip()).strip(" .<>()[]\"'")
    v = re.sub(r"^[a-z][a-z0-9+.-]*://", "", v).split("/", 1)[0].split(":", 1)[0]
    if v.startswith("www."):
        v = v[4:]
    return v if _DOMAIN.match(v) else None


@lru_cache(maxsize=16)
def _watch_list(entries: tuple[str, ...]) -> tuple[tuple[_Supplier, ...], dict[str, list[_Supplier]]]:
    suppliers = []
    for entry in entries:
        if not entry or not entry.strip():
            continue
        dom = as_domain(entry) if " " not in entry.strip() else None
        sup = _Supplier(entry.strip(), () if dom else words_of(entry), dom)
        if sup.domain or sup.words:
            suppliers.append(sup)
    compact: dict[str, list[_Supplier]] = {}
    for s in suppliers:
        key = s.compact if s.words else _compact(_name_label(s.domain) or "")
        if len(key) >= 3:
            compact.setdefault(key, []).append(s)
    return tuple(suppliers), compact


def _compact(text: str) -> str:
    return "".join(words_of(text))


def _name_label(domain: str) -> str | None:
    """The label a company registers under: "eu.acme.co.uk" -> "acme" (the public suffix guessed)."""
    parts = [p for p in domain.split(".")[:-1] if p not in _PUBLIC_LABELS]
    return parts[-1] if parts and len(parts[-1]) >= 3 else None


def _words_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Every word of each name has a counterpart in the other: short words exact, long within one edit."""
    def close(x: str, y: str) -> bool:
        if x == y:
            return True
        if min(len(x), len(y)) < EXACT_WORD:
            return False
        return Levenshtein.distance(x, y, score_cutoff=1) <= 1

    return all(any(close(x, y) for y in b) for x in a) and all(any(close(y, x) for x in a) for y in b)


def name_matches(victim: str, suppliers: tuple[_Supplier, ...], compact: dict[str, list[_Supplier]]) -> list[_Supplier]:
    """Suppliers whose name the victim name matches (see the module docstring for the rule)."""
    words = words_of(victim[:MAX_VALUE])
    if not words:
        return []
    out: list[_Supplier] = []
    out.extend(compact.get("".join(words), ()))
    named = [s for s in suppliers if s.words]
    if named:
        text = " ".join(words)
        choices = [s.text for s in named]
        hits: set[int] = set()
        for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
            for _, _, idx in process.extract(text, choices, scorer=scorer, score_cutoff=CUTOFF, limit=None):
                hits.add(idx)
        for idx in sorted(hits):
            if _words_agree(words, named[idx].words) and named[idx] not in out:
                out.append(named[idx])
    return out


def domain_matches(domain: str, suppliers: tuple[_Supplier, ...],
                   compact: dict[str, list[_Supplier]]) -> list[_Supplier]:
    """Suppliers a victim domain points at: a supplier domain or a subdomain of it, or a domain
    registered under a supplier's name run together ("acmecardsystems.example" for Acme Card Systems)."""
    out = [s for s in suppliers if s.domain and (domain == s.domain or domain.endswith("." + s.domain))]
    label = _name_label(domain)
    for s in compact.get(_compact(label), ()) if label else ():
        if s not in out:
            out.append(s)
    return out


def _fields(rec: Record) -> Iterable[tuple[str, str, int]]:
    """(kind, value, offset in rec.text) of the victim fields of one record: kind "name" or "domain"."""
    if rec.headers and rec.cells:
        offset = 0
        for head, cell in zip(rec.headers, rec.cells):
            h = label_of(head)
            if cell.strip():
                if h in VICTIM_LABELS:
                    yield from _value_fields("name", cell, offset)
                elif h in DOMAIN_LABELS:
                    yield "domain", cell, offset
            offset += len(cell) + 3  # cells are joined with " | "
        return
    m = _LINE.match(rec.text)
    if not m:
        return
    label = label_of(m.group(1))
    if label in VICTIM_LABELS:
        yield from _value_fields("name", m.group(2), m.start(2))
    elif label in DOMAIN_LABELS:
        yield "domain", m.group(2), m.start(2)


def _value_fields(kind: str, value: str, offset: int) -> Iterable[tuple[str, str, int]]:
    """A victim value, and any domain written inside it ("Acme Ltd (acme.example)")."""
    if as_domain(value):
        yield "domain", value, offset
        return
    for m in _DOMAIN_IN_TEXT.finditer(value):
        yield "domain", m.group(), offset + m.start()
    rest = _DOMAIN_IN_TEXT.sub(" ", value).strip(" ()[]-,")
    if rest:
        yield kind, rest, offset


def label_of(raw: str) -> str:
    """A line label or column header folded for comparison: "Group_Name" -> "group name"."""
    return " ".join(w for w in _NON_WORD.split(fold(raw)) if w)


def looks_like_posting(doc: Document) -> bool:
    """Whether the document holds leak-site postings: victim and group lines, or such a table."""
    seen_headers: set[tuple] = set()
    line_labels: set[str] = set()
    for rec in doc.records:
        if rec.headers:
            if rec.headers not in seen_headers:
                seen_headers.add(rec.headers)
                heads = {label_of(h) for h in rec.headers}
                if heads & VICTIM_LABELS and heads & GROUP_LABELS:
                    return True
            continue
        m = _LINE.match(rec.text) if ":" in rec.text[:40] else None
        if m:
            label = label_of(m.group(1))
            if label in VICTIM_LABELS or label in GROUP_LABELS:
                line_labels.add(label)
                if line_labels & VICTIM_LABELS and line_labels & GROUP_LABELS:
                    return True
    return False


class SupplierMatcher:
    """Suppliers on the watch list named as victims in leak-site postings."""

    name: ClassVar[str] = "suppliers"

    def entries(self, row: RosterRow, ctx: MatchContext):
        return ()  # the watch list is public configuration, not roster data

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        if not ctx.suppliers or not looks_like_posting(doc):
            return
        suppliers, compact = _watch_list(tuple(ctx.suppliers))
        if not suppliers:
            return
        reported: set[tuple[int, str]] = set()
        for r, rec in enumerate(doc.records):
            for kind, value, offset in _fields(rec):
                if kind == "domain":
                    dom = as_domain(value)
                    found = domain_matches(dom, suppliers, compact) if dom else []
                else:
                    found = name_matches(value, suppliers, compact)
                for sup in found:
                    if (r, sup.label) in reported:
                        continue
                    reported.add((r, sup.label))
                    yield Evidence(kind="supplier", record=r, span=(offset, offset + len(value)),
                                   log_lr=SUPPLIER_LR, detail=f"supplier: {sup.label}")
