"""Text decoding, line splitting, the record sink, and plain-text / binary records."""

from __future__ import annotations

import codecs
import re

from leakwatch.models import Record

from .limits import Limits

_HIGH_BYTES = bytes(range(128, 256))


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the head looks like BOM-less UTF-16 text, else None."""
    if len(head) < 32:
        return None
    even, odd = head[0::2], head[1::2]
    ez, oz = even.count(0), odd.count(0)
    if oz >= 0.4 * len(odd) and ez <= 0.05 * len(even):
        return "utf-16-le"
    if ez >= 0.4 * len(even) and oz <= 0.05 * len(odd):
        return "utf-16-be"
    return None


def decode(data: bytes | bytearray) -> tuple[str, str]:
    """Bytes to text, never raising: BOMs, BOM-less UTF-16, UTF-8, cp1252 fallback.

    UTF-8 that fails is kept as UTF-8 (bad bytes become U+FFFD) while it has more
    valid multi-byte characters than bad bytes; otherwise the input is taken to be
    cp1252 (the usual Windows export), whose undefined bytes become U+FFFD.
    """
    if not data:
        return "", "empty"
    head = bytes(data[:4])
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return codecs.decode(data, "utf-32", "replace"), "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return codecs.decode(data, "utf-8-sig", "replace"), "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return codecs.decode(data, "utf-16", "replace"), "utf-16"
    enc16 = _utf16_without_bom(bytes(data[:4096]))
    if enc16:
        return codecs.decode(data, enc16, "replace"), enc16
    try:
        return codecs.decode(data, "utf-8", "strict"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = codecs.decode(data, "utf-8", "replace")
    bad = text.count("\ufffd")
    non_ascii_chars = len(text) - len(text.encode("ascii", "ignore"))
    valid_multibyte = non_ascii_chars - bad
    if valid_multibyte > bad:
        return text, "utf-8"
    return codecs.decode(data, "cp1252", "replace"), "cp1252"


def split_lines(text: str) -> list[str]:
    """Lines split on \\n, \\r\\n or \\r (not on the other Unicode breaks, so numbers match editors)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


class Sink:
    """Collects a document's records within the record and line-length limits."""

    __slots__ = ("records", "max_records", "max_chars", "cut", "full", "tables", "notes")

    def __init__(self, limits: Limits):
        self.records: list[Record] = []
        self.max_records = limits.max_records
        self.max_chars = limits.max_line_chars
        self.cut = 0  # lines or records cut into pieces
        self.full = False
        self.tables = 0
        self.notes: list[str] = []  # rejections found while parsing

    def new_table(self) -> int:
        self.tables += 1
        return self.tables - 1

    def _room(self) -> bool:
        if len(self.records) >= self.max_records:
            self.full = True
            return False
        return True

    def prose(self, text: str, where: str) -> bool:
        """Add a prose record; False once the record limit is reached."""
        if len(text) > self.max_chars:
            return self._pieces(text, where)
        if not self._room():
            return False
        self.records.append(Record(text, where))
        return True

    def row(self, cells: list[str], headers: tuple[str, ...] | None, table: int, where: str) -> bool:
        """Add a table record (text = cells joined with " | "); False once full."""
        text = " | ".join(cells)
        if len(text) > self.max_chars:  # a monster cell: keep the text, lose the structure
            return self._pieces(text, where)
        if len(self.records) >= self.max_records:
            self.full = True
            return False
        self.records.append(Record(text, where, tuple(cells), headers, table))
        return True

    def _pieces(self, text: str, where: str) -> bool:
        """Cut an over-long line into pieces, preferring to cut at whitespace."""
        self.cut += 1
        size = self.max_chars
        window = max(1, size // 16)
        start, part, n = 0, 1, len(text)
        while start < n:
            end = min(start + size, n)
            if end < n:
                ws = max(text.rfind(" ", end - window, end), text.rfind("\n", end - window, end))
                if ws > start:
                    end = ws + 1
            if not self._room():
                return False
            self.records.append(Record(text[start:end], f"{where} (part {part})"))
            start, part = end, part + 1
        return True

    def prose_lines(self, text: str, first_line: int = 1) -> bool:
        """One prose record per non-blank line of `text`, numbered from `first_line`."""
        recs, cap, mc = self.records, self.max_records, self.max_chars
        for n, line in enumerate(split_lines(text), first_line):
            if not line or line.isspace():
                continue
            if len(line) > mc or len(recs) >= cap:
                if not self.prose(line, f"line {n}"):
                    return False
                continue
            recs.append(Record(line, f"line {n}"))
        return True

    def rejections(self, limits: Limits) -> list[str]:
        out = list(self.notes)
        if self.cut:
            out.append(f"{self.cut} line(s) longer than {limits.max_line_chars} characters cut into pieces")
        if self.full:
            out.append(f"more than {limits.max_records} records: rest not scanned")
        return out


# Printable runs in a binary, found on a byte mask so that bytes.find (fast, in C)
# skips the noise: printable ASCII -> 0xff, NUL -> 0xfe, anything else -> 0x00.
_MASK = bytes(0xFF if (b == 9 or 0x20 <= b <= 0x7E) else 0xFE if b == 0 else 0 for b in range(256))
_RUN = re.compile(rb"\xff++")
_RUN16 = re.compile(rb"(?:\xff\xfe)++")
_MIN_RUN = 6


def parse_binary(data: bytes | bytearray, sink: Sink) -> None:
    """Like `strings`: runs of 6+ printable ASCII characters, and of UTF-16LE ASCII text
    (as in .xls, .doc and .xlsb files), each a record located by byte offset."""
    mask = bytes(data).translate(_MASK)
    for needle, run, width, enc in ((b"\xff" * _MIN_RUN, _RUN, 1, "ascii"), (b"\xff\xfe" * _MIN_RUN, _RUN16, 2, "utf-16-le")):
        pos = 0
        while not sink.full:
            i = mask.find(needle, pos)
            if i < 0:
                break
            j = run.match(mask, i).end()
            if not sink.prose(bytes(data[i:j]).decode(enc), f"offset {i}"):
                return
            pos = j
