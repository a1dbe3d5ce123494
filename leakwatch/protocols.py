"""The contracts plugins implement: `Matcher` (and, for collectors, `Source`).

A matcher owns both halves of its job: what it derives from a roster row at
enrolment (`entries`, keyed hashes only) and how it finds them in text (`match`,
pure, no I/O). The core finds matchers through the `leakwatch.matchers` entry
point group and never imports them by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from leakwatch.models import Document, Evidence, RosterRow

if TYPE_CHECKING:  # pragma: no cover
    from leakwatch.index import MatchContext


Entry = tuple[int, int, int]
"""One keyed-hash index entry derived from a roster row: (field, kind, key).

`field` says which roster field it came from (`leakwatch.index.Field`, as an int);
`kind` is EXACT, DEL (one character deleted) or SUB (deleted, position mixed in)
(`leakwatch.index.Kind`, as an int); `key` a signed 64-bit keyed hash. A plain
tuple because enrolment makes tens of millions of them.
"""


@runtime_checkable
class Matcher(Protocol):
    name: ClassVar[str]

    def entries(self, row: RosterRow, ctx: "MatchContext") -> Iterable[Entry]:
        """Keyed entries to enrol for this staff member (may be empty)."""
        ...

    def match(self, doc: Document, ctx: "MatchContext") -> Iterable[Evidence]:
        """Evidence found in the document; pure: no I/O, no state kept between calls."""
        ...
