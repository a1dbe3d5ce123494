"""Format detection: content first (pastes have no extension), the name as a hint."""

from __future__ import annotations

from . import html as htmlfmt
from . import jsonfmt, sql, tabular

HEAD = 4096  # bytes read before deciding what a stream is

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def extension(name: str) -> str:
    """'.csv' for 'a.zip!dir/x.CSV'; '' when there is none."""
    base = name.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def _tar_checksum_ok(block: bytes) -> bool:
    try:
        stored = int(block[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return stored == unsigned


def container(head: bytes) -> str | None:
    """zip, gzip, bzip2, xz, tar, ole2, pdf, or None for anything else."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"\x31\x41\x59\x26\x53\x59":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if len(head) >= 512 and (head[257:262] == b"ustar" or (head[0] and _tar_checksum_ok(head[:512]))):
        return "tar"
    if head[:8] == _OLE2:
        return "ole2"
    if head[:5] == b"%PDF-":
        return "pdf"
    return None


def looks_binary(head: bytes) -> bool:
    """Many NULs or control bytes (after BOM-less UTF-16 has been ruled out)."""
    if not head:
        return False
    from .text import _utf16_without_bom  # local: text has no detection imports

    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:3] == b"\xef\xbb\xbf" or _utf16_without_bom(head):
        return False
    nul = head.count(0)
    if nul > len(head) // 100:
        return True
    ctrl = len(head) - len(head.translate(None, _CONTROL))
    return ctrl > len(head) // 10


_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))

_EXT_KIND = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".ndjson": "ndjson",
    ".jsonl": "ndjson", ".html": "html", ".htm": "html", ".xhtml": "html", ".sql": "sql",
    ".md": "markdown", ".markdown": "markdown",
}


def text_kind(sample: str, name: str) -> str:
    """json, ndjson, html, sql, markdown, csv, tsv or text, from the first ~64 KiB of text."""
    ext = _EXT_KIND.get(extension(name), "")
    stripped = sample.lstrip()
    first = stripped[:1]
    if first in ("{", "["):
        if jsonfmt.looks_ndjson(stripped):
            return "ndjson"
        if jsonfmt.looks_json(stripped):
            return "json"
    if ext in ("json", "ndjson"):
        return ext
    if htmlfmt.looks_html(stripped) or (ext == "html" and "<" in sample):
        return "html"
    if sql.looks_sql(sample) or (ext == "sql" and sql.looks_sql(sample, loose=True)):
        return "sql"
    if tabular.has_markdown_table(sample):
        return "markdown"
    delim = tabular.sniff_delimiter(sample, hint=ext)
    if delim is not None:
        return "tsv" if delim == "\t" else "csv"
    if ext in ("csv", "tsv"):
        return ext
    return "text"

