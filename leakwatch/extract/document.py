"""One leaf document (not an archive): bytes -> text -> records of the detected format."""

from __future__ import annotations

import logging

from leakwatch.models import Document

from . import detect, jsonfmt, sql, tabular
from . import html as htmlfmt
from .limits import Limits
from .text import Sink, decode, parse_binary

log = logging.getLogger(__name__)

_BINARY_NOTES = {
    "ole2": "legacy or encrypted Office file (OLE2): only printable strings scanned",
    "pdf": "PDF: only printable strings scanned (compressed text not decoded)",
}


def build_document(
    data: bytes | bytearray,
    source: str,
    limits: Limits,
    rejections: list[str] | None = None,
    size: int | None = None,
    container: str | None = None,
) -> Document:
    """Records from one document's (already size-capped) bytes; never raises."""
    rejections = list(rejections or [])
    size = len(data) if size is None else size
    sink = Sink(limits)
    head = bytes(data[:4096])
    if container in _BINARY_NOTES or detect.looks_binary(head):
        rejections.extend([_BINARY_NOTES[container]] if container in _BINARY_NOTES else [])
        parse_binary(data, sink)
        return Document(source, "binary", sink.records, size, rejections + sink.rejections(limits))

    text, _encoding = decode(data)
    kind = detect.text_kind(text[:65536], source)
    try:
        kind = _parse(kind, text, sink)
    except Exception as e:  # a parser bug must not lose the document: fall back to lines
        log.warning("%s parser failed on %s (%s); scanned as plain text", kind, source, type(e).__name__)
        sink = Sink(limits)
        sink.notes.append(f"{kind} parser failed ({type(e).__name__}): scanned as plain text")
        sink.prose_lines(text)
        kind = "text"
    return Document(source, kind, sink.records, size, rejections + sink.rejections(limits))


def _parse(kind: str, text: str, sink: Sink) -> str:
    if kind == "json":
        return jsonfmt.parse_json(text, sink)
    if kind == "ndjson":
        return jsonfmt.parse_ndjson(text, sink)
    if kind == "html":
        htmlfmt.parse_html(text, sink)
    elif kind == "sql":
        sql.parse_sql(text, sink)
    elif kind == "markdown":
        tabular.parse_markdown(text, sink)
    elif kind in ("csv", "tsv"):
        delim = tabular.sniff_delimiter(text[:65536], hint=kind) or ("\t" if kind == "tsv" else ",")
        tabular.parse_csv(text, sink, delim)
    else:
        sink.prose_lines(text)
    return kind
