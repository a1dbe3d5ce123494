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
from matchers.emails import LABEL, addresses, is_force_domain, mask_address

_PASSWORD_AFTER = re.compile(r"^\s*(?:[:;|,\t]|\s)\s*(\S{4,128})")
_PASSWORD_HEADER = re.compile(r"pass|pwd|secret|credential", re.I)
_NOT_PASSWORD = re.compile(r"^(?:https?://|www\.)|@|^\d{1,3}$", re.I)


class CredentialMatcher:
    """A force or roster address with a password in the same record."""

    name: ClassVar[str] = "credentials"

    def entries(self, row: RosterRow, ctx: MatchContext):
        return ()  # the e-mail matcher enrols addresses

    def match(self, doc: Document, ctx: MatchContext) -> Iterable[Evidence]:
        domains = tuple(d.lower() for d in ctx.force_domains)
        for r, rec in enumerate(doc.records):
            text = rec.text
            found = list(addresses(text))
            if not found:
                continue
            pw_col = None
            if rec.headers and rec.cells:
                for c, head in enumerate(rec.headers):
                    if head and _PASSWORD_HEADER.search(head) and c < len(rec.cells) and rec.cells[c].strip():
                        pw_col = c
            for start, end, addr in found:
                has_pw = pw_col is not None
                if not has_pw:
                    m = _PASSWORD_AFTER.match(text[end:])
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
