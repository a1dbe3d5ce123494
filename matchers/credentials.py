"""Credentials: a roster or force-domain address with a password beside it.

`email:pass`, `email;pass`, `email | pass`, or a table with a password column. The
password is never kept, not even masked: only that one was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from leakwatch.index import Field, MatchContext
from leakwatch.models import Document, Evidence, RosterRow
from matchers.emails import LABEL, address_records, is_force_domain, mask_address

# `address:pass`, `address;pass`, `address | pass`, `address<TAB>pass` anywhere in a line;
# `address,pass` and `address pass` only as the whole line (in prose, "mail x@y, thanks" is not one).
_PASSWORD_AFTER = re.compile(r"^[ ]*[:;|\t][ \t]*(\S{4,128})")
_PASSWORD_LINE_END = re.compile(r"^(?:[ ]*,[ ]*|[ \t]+)(\S{4,128})\s*$")
_PASSWORD_HEADER = re.compile(r"pass|pwd|secret|credential", re.I)
_NOT_PASSWORD = re.compile(r"^(?:https?://|www\.)|@|^\d{1,3}$", re.I)


class CredentialMatcher:
    """A force or roster address with a password in the same record."""

    name: ClassVar[str] = "credentials"

    def entries(self, row: RosterRow, ctx: MatchContext):
        return ()  # the e-mail matcher enrols addresses

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        domains = tuple(d.lower() for d in ctx.force_domains)
        for r, found in address_records(doc, ctx).items():
            rec = doc.records[r]
            text = rec.text
            pw_col = None
            headed = bool(rec.cells is not None and rec.headers and any(h.strip() for h in rec.headers))
            if headed:
                for c, head in enumerate(rec.headers):
                    if head and _PASSWORD_HEADER.search(head) and c < len(rec.cells) and rec.cells[c].strip():
                        pw_col = c
            for start, end, addr in found:
                if headed:  # a table with a header row: only a password-like column says "password"
                    has_pw = pw_col is not None
                elif rec.cells is not None:  # a table without one: the next cell, if it looks like one
                    has_pw = _next_cell_is_password(rec.cells, addr)
                else:
                    m = _PASSWORD_AFTER.match(text[end:])
                    if m is None and not text[:start].strip():
                        m = _PASSWORD_LINE_END.match(text[end:])
                    has_pw = bool(m) and not _NOT_PASSWORD.search(m.group(1))
                if not has_pw:
                    continue
                staff = None
                if ctx.index is not None:
                    hits = [h for h in ctx.index.lookup(ctx.hasher.token(LABEL, addr)) if h.field == Field.EMAIL]
                    staff = hits[0].staff if hits else None
                if staff is None and not is_force_domain(addr, domains):
                    continue
                yield Evidence(kind="credential", record=r, span=(start, end), staff=staff,
                               log_lr=0.0, snippet=mask_address(addr) + " : [password]",
                               detail="roster address" if staff is not None else "force domain")


def _next_cell_is_password(cells: tuple[str, ...], addr: str) -> bool:
    """In a table without a header row: the cell after the address's cell holds one token."""
    for c, cell in enumerate(cells[:-1]):
        if addr in cell.lower():
            nxt = cells[c + 1].strip()
            return 4 <= len(nxt) <= 128 and not any(ch.isspace() for ch in nxt) and not _NOT_PASSWORD.search(nxt)
    return False
