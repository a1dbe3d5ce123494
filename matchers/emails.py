"""E-mail addresses: roster addresses (hashed) and any address at a force domain.

Addresses are found in obfuscated forms too (`j.smith [at] force (dot) police (dot) uk`,
upper case). A roster address identifies a person as well as a pay number does;
a force-domain address that is not on the roster is reported without a person.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from typing import ClassVar

from leakwatch.index import EXACT, F_EMAIL, Field, MatchContext
from leakwatch.models import Document, Evidence, RosterRow
from leakwatch.normalise import email as norm_email
from leakwatch.protocols import Entry

LABEL = "email"
ADDRESS_STRENGTH = 6.0  # log10: as telling as a 6-digit number

_AT = r"(?:@|\s*[\[\(\{<]\s*at\s*[\]\)\}>]\s*)"
_DOT = r"(?:\.|\s*[\[\(\{<]\s*dot\s*[\]\)\}>]\s*)"
ADDRESS = re.compile(rf"[\w+'-]{{1,64}}(?:{_DOT}[\w+'-]{{1,64}}){{0,5}}{_AT}[\w-]{{1,63}}(?:{_DOT}[\w-]{{1,63}}){{1,6}}",
                     re.I)
_OBFUSCATED_AT = re.compile(r"[\[\(\{<]\s*at\s*[\]\)\}>]", re.I)
_VALID = re.compile(r"^[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def addresses(text: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, normalised address) for each address-like string."""
    if "@" not in text and not _OBFUSCATED_AT.search(text):
        return
    for m in ADDRESS.finditer(text):
        addr = norm_email(m.group())
        if _VALID.match(addr):
            yield m.start(), m.end(), addr


_AT_ANYWHERE = re.compile(rf"@|{_OBFUSCATED_AT.pattern}", re.I)


def address_records(doc: Document, ctx: MatchContext) -> dict[int, list[tuple[int, int, str]]]:
    """Record -> its `addresses`, for the records holding any: computed once per document and
    shared by the e-mail and credential matchers (`MatchContext.per_document`)."""
    memo = ctx.per_document(doc)
    got = memo.get("addresses")
    if got is None:
        got = memo["addresses"] = _address_records([rec.text for rec in doc.records])
    return got


def _address_records(texts: list[str]) -> dict[int, list[tuple[int, int, str]]]:
    # One search of the whole document for an "@" (or "[at]") finds the records to read; most
    # documents have none, and most records of those that do have none either.
    joined = "\n".join(texts)
    if "@" not in joined and not _OBFUSCATED_AT.search(joined):
        return {}
    starts = list(accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
    candidates = sorted({bisect_right(starts, m.start()) - 1 for m in _AT_ANYWHERE.finditer(joined)})
    out = {}
    for r in candidates:
        found = list(addresses(texts[r]))
        if found:
            out[r] = found
    return out


def domain_of(addr: str) -> str:
    return addr.rpartition("@")[2]


def is_force_domain(addr: str, domains: tuple[str, ...]) -> bool:
    dom = domain_of(addr)
    return any(dom == d or dom.endswith("." + d) for d in domains)


def mask_address(addr: str) -> str:
    local, _, dom = addr.partition("@")
    return f"{local[:1]}***@{dom}"


class EmailMatcher:
    """Roster e-mail addresses (exact, after folding) and force-domain addresses."""

    name: ClassVar[str] = "emails"

    def entries(self, row: RosterRow, ctx: MatchContext) -> list[Entry]:
        addr = norm_email(row.email) if row.email else ""
        return [(F_EMAIL, EXACT, ctx.hasher.uncached(LABEL, addr))] if addr else []

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        domains = tuple(d.lower() for d in ctx.force_domains)
        for r, found in address_records(doc, ctx).items():
            for start, end, addr in found:
                hits = []
                if ctx.index is not None:
                    hits = [h for h in ctx.index.lookup(ctx.hasher.token(LABEL, addr)) if h.field == Field.EMAIL]
                for hit in hits:
                    yield Evidence(kind="email", record=r, span=(start, end), staff=hit.staff,
                                   log_lr=ADDRESS_STRENGTH, snippet=mask_address(addr))
                if not hits and is_force_domain(addr, domains):
                    yield Evidence(kind="force_email", record=r, span=(start, end),
                                   snippet=mask_address(addr), detail="force domain")
