"""Plain data passed between stages: documents, records, evidence, findings.

Nothing here does I/O. Sources and matchers import only this module and
`leakwatch.protocols` (plus the helpers the core exposes for them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Severity(enum.IntEnum):
    """How bad a document is; ordered, so `sev >= Severity.HIGH` reads as it should."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = "|".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected {names})") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(slots=True)
class Record:
    """One unit of a document in which evidence is grouped: a line, a table row, a JSON object.

    `text` is what matchers read. For tabular records `cells` holds the cell values
    and `headers` the column names of the table (same length where known); `text`
    is then the cells joined with " | ". `where` locates the record for people
    ("line 12", "Sheet2!row 40", "$[3]") and never quotes its content.
    """

    text: str
    where: str
    cells: tuple[str, ...] | None = None
    headers: tuple[str, ...] | None = None
    table: int | None = None  # records of one table share a number; None for prose


@dataclass(slots=True)
class Document:
    """Text extracted from one file, archive member or fetched item."""

    source: str  # a path, `archive.zip!member/path`, or a URL
    kind: str  # text, csv, json, html, markdown, sql, xlsx, ...
    records: list[Record]
    size: int  # bytes of the (decompressed) input
    rejections: list[str] = field(default_factory=list)  # limits breached, with reasons

    @property
    def tables(self) -> dict[int, list[Record]]:
        out: dict[int, list[Record]] = {}
        for rec in self.records:
            if rec.table is not None:
                out.setdefault(rec.table, []).append(rec)
        return out


@dataclass(slots=True)  # not frozen: a frozen dataclass is three times slower to make, and scans make millions
class Evidence:
    """One thing a matcher found: a hashed roster hit, a credential, a context word.

    `staff` is the index of a staff member in the loaded roster (None for evidence
    that is about no one in particular: context words, force-domain addresses).
    `log_lr` is the matcher's log10 likelihood ratio for "this record is that staff
    member's" against "this is someone (or something) else", before the engine
    combines evidence within the record. `snippet` is masked (`J*** S****`).
    """

    kind: str  # name, initial_name, pay_number, warrant_number, email, credential, context, ...
    record: int  # index into Document.records
    span: tuple[int, int]  # character offsets into the record's text
    staff: int | None = None
    log_lr: float = 0.0
    fuzzy: bool = False
    snippet: str = ""
    detail: str = ""  # public words only: "rank", "header: pay no", "force domain"


@dataclass(slots=True)
class StaffHit:
    """What a document holds about one staff member, as reported (by ref, never by name)."""

    ref: str
    kinds: list[str]
    confidence: float  # 0..1
    log_lr: float
    rank: str | None = None
    unit: str | None = None
    sensitive: bool = False
    leaver: bool = False  # no longer on the roster, still watched for [roster] leaver_days


@dataclass(slots=True)
class Finding:
    """The engine's verdict on one document."""

    source: str
    severity: Severity
    score: float  # document log10 likelihood ratio, chance-corrected
    staff: list[StaffHit]
    credentials: list[dict]
    reasons: list[str]
    rejections: list[str] = field(default_factory=list)
    records: int = 0

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "severity": str(self.severity),
            "score": round(self.score, 2),
            "staff": [
                {"ref": s.ref, "kinds": s.kinds, "confidence": round(s.confidence, 3)}
                for s in self.staff
            ],
            "credentials": self.credentials,
            "reasons": self.reasons,
            "rejections": self.rejections,
        }


@dataclass(slots=True)
class RosterRow:
    """One staff member as read from a roster file: plaintext, held in memory only while enrolling."""

    line: int  # 1-based line (CSV) or row (XLSX) number in the file, for error messages
    staff_id: str
    surname: str
    forenames: str = ""
    pay_number: str = ""
    warrant_number: str = ""
    email: str = ""
    rank: str = ""
    unit: str = ""
    vetting: str = ""
    sheet: str | None = None  # XLSX sheet the row came from

    def __repr__(self) -> str:  # never let a roster value reach a log line or a traceback
        where = f"{self.sheet}!" if self.sheet else ""
        return f"RosterRow({where}line {self.line})"

    __str__ = __repr__


# --------------------------------------------------------------------------- collectors

@dataclass(slots=True)
class Item:
    """One thing a source fetched: a paste, a gist file, a feed entry, an FOI attachment.

    `external_id` is unique within the source and stable across polls (the pipeline
    deduplicates on it). `body` is what gets extracted and matched; `name` is a file
    name hint for extraction (`AbC123.txt`, `response.xlsx`). Metadata that may quote
    the leak (titles, descriptions) belongs in the body, not in a field of its own:
    documents without findings keep only the fields below, never their text.
    """

    external_id: str
    body: bytes
    name: str
    url: str | None = None
    published: datetime | None = None


@dataclass(slots=True)
class Poll:
    """What one poll of a source returned.

    `cursor` is JSON-able state handed back on the next poll (a `since` time, the last
    key seen, an ETag); the pipeline saves it in the transaction that stores `items`,
    so a crash in between means a re-fetch, never a loss. `more`: poll again at once
    (another page is waiting). `wait`: the upstream asked for a pause (seconds).
    """

    items: list[Item]
    cursor: dict | None = None
    more: bool = False
    wait: float | None = None


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """One `[[sources]]` table, validated: the common settings and the source's own options."""

    name: str
    kind: str
    base_url: str | None = None
    interval: float = 60.0  # seconds between polls
    timeout: float = 30.0  # seconds for one HTTP exchange (connect + read)
    max_bytes: int = 32 * 2**20  # cap on one fetched body, decompressed
    silent_after: float | None = None  # seconds without a successful poll before an operator alert
    options: dict = field(default_factory=dict)  # the source's own settings (token_file, feeds, ...)
