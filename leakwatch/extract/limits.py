"""Hard limits on extraction and the exception raised when a stream breaches one.

Reasons (the strings that end up in `Document.rejections`) are built here and in
the format modules from numbers and file names only: never from document content.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ratio checks start only after this much output: tiny members (an empty CSV, a
# page of spaces) compress arbitrarily well and are no threat.
RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_document_bytes: int = 64 * 2**20  # one document (decompressed): the rest is cut
    max_total_bytes: int = 512 * 2**20  # everything decompressed from one input, all archive layers
    max_ratio: float = 200.0  # decompressed / compressed, per archive member or stream
    max_members: int = 10_000  # archive members, all archive layers of one input together
    max_depth: int = 4  # archive layers opened
    max_records: int = 2_000_000  # per document
    max_line_chars: int = 1_000_000  # a longer line (or record) is cut into pieces
    max_xlsx_cells: int = 20_000_000  # per workbook; blank rows count as one cell


class LimitHit(Exception):
    """A limit was breached while reading; `reason` is safe to record and show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def fmt_bytes(n: int) -> str:
    """64 MiB, 1.5 GiB, 300 KiB, 17 bytes."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"


def fmt_ratio(r: float) -> str:
    return f"{r:g}:1"


def doc_cut_reason(limits: Limits) -> str:
    size = fmt_bytes(limits.max_document_bytes)
    return f"document larger than {size}: first {size} scanned"


def clean_name(name: str, limit: int = 1024) -> str:
    """A file or member name made safe to print: no control characters, no surrogates."""
    if not name.isprintable():
        name = "".join(ch if ch.isprintable() else "?" for ch in name[:limit])
    if any("\ud800" <= ch <= "\udfff" for ch in name):
        name = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in name)
    return name[:limit]


def describe_error(exc: BaseException) -> str:
    """A short, content-free description of an exception (or its root cause): never its message."""
    chain = [exc]
    while len(chain) < 8:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt is None or nxt in chain:
            break
        chain.append(nxt)
    for e in reversed(chain):  # the root cause says most
        if type(e).__name__ in _ERROR_WORDS:
            return _ERROR_WORDS[type(e).__name__]
    return type(exc).__name__


_ERROR_WORDS = {
    "BadZipFile": "corrupt or truncated zip",
    "BadGzipFile": "corrupt gzip stream",
    "EOFError": "truncated data",
    "error": "corrupt compressed data",  # zlib.error
    "LZMAError": "corrupt xz stream",
    "KeyError": "missing part",
    "ParseError": "XML parse error",
    "ExpatError": "XML parse error",
    "EntitiesForbidden": "XML entities forbidden (entity bomb?)",
    "DTDForbidden": "XML DTD forbidden",
    "ExternalReferenceForbidden": "XML external reference forbidden",
    "NotSupportedError": "unsupported XML feature",
    "InvalidFileException": "not a workbook",
    "NotImplementedError": "unsupported compression method",
    "ReadError": "corrupt or truncated tar",
    "UnicodeDecodeError": "undecodable text",
    "RecursionError": "nesting too deep",
    "MemoryError": "out of memory",
}
