"""The contracts plugins implement: `Matcher` (and, for collectors, `Source`).

A matcher owns both halves of its job: what it derives from a roster row at
enrolment (`entries`, keyed hashes only) and how it finds them in text (`match`,
pure, no I/O). The core finds matchers through the `leakwatch.matchers` entry
point group and never imports them by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from leakwatch.models import Document, Evidence, Poll, RosterRow, SourceSettings

if TYPE_CHECKING:  # pragma: no cover
    from leakwatch.http import Http
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


@runtime_checkable
class Source(Protocol):
    """A collector for one site's protocol. Knows nothing of the database.

    Constructed once per `[[sources]]` table; the constructor validates `settings.options`
    and raises ValueError naming the option (`token_file: file not found`). `poll` fetches
    what is new since `cursor` (None on the first poll) with the runner's shared HTTP
    client and returns the items and the next cursor; it raises `leakwatch.http.SourceError`
    (or a subclass) for upstream failures, which the runner counts and backs off on.

    Optional: `async def stored(self, items)`, called once the items are committed (the
    folder source moves its files aside then; a crash before it means a re-ingest that the
    pipeline deduplicates, never a loss).
    """

    kind: ClassVar[str]
    settings: SourceSettings

    async def poll(self, http: "Http", cursor: dict | None) -> Poll:
        ...


@runtime_checkable
class PushSource(Protocol):
    """A source that is posted to instead of polled (the JSON-lines push endpoint).

    The web server mounts `POST /push/{settings.name}` for it; `authorised` checks the
    request's `Authorization` header value and `parse` turns the request body into items
    (ValueError with the line number on bad input). Items are stored before the reply.
    """

    kind: ClassVar[str]
    settings: SourceSettings

    def authorised(self, header: str | None) -> bool:
        ...

    def parse(self, body: bytes) -> list:
        ...
