"""Bytes -> Documents of text Records, within hard limits.

`extract_bytes` and `extract_path` yield one Document per plain file or archive
member (`archive.zip!member/path`, nested `a.zip!inner.tar.gz!x.csv`). An archive
yields no Document of its own unless it cannot be opened or a limit stops it; a
breached limit is a plain-words reason in `Document.rejections` and whatever was
read before it is still extracted. Nothing here raises for bad input, writes to
disk, or holds more than the limits allow in memory. Reasons never quote content.

Formats (detected from content first, the name as a hint): ZIP, GZIP, BZIP2, XZ,
TAR (and compressed TARs), XLSX (every sheet, hidden ones too), JSON / NDJSON,
HTML, CSV / TSV, Markdown tables, SQL dumps, plain text; binaries (including
legacy OLE2 Office files and PDFs) give their printable strings.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from leakwatch.models import Document

from .archive import Ctx, Input, extract_input
from .limits import LimitHit, Limits, describe_error

__all__ = ["Limits", "LimitHit", "extract_bytes", "extract_path"]

log = logging.getLogger(__name__)


def _guarded(gen: Iterator[Document], source: str) -> Iterator[Document]:
    """Last line of defence: a bug in extraction becomes a rejection, not a crash."""
    try:
        yield from gen
    except Exception as e:
        log.warning("extraction of %s failed (%s)", source, type(e).__name__)
        yield Document(source, "unknown", [], 0, [f"extraction failed ({type(e).__name__})"])


def extract_bytes(data: bytes, name: str, limits: Limits = Limits()) -> Iterator[Document]:
    """Documents from in-memory bytes; `name` is the source (and its extension a format hint)."""
    ctx = Ctx(limits)
    yield from _guarded(extract_input(Input(data=bytes(data) if not isinstance(data, bytes) else data), name, ctx, 0), name)


def extract_path(
    path: str | Path, limits: Limits = Limits(), display_name: str | None = None
) -> Iterator[Document]:
    """Documents from a file, reading at most `max_document_bytes` of a plain file.

    Archives are streamed from the file (ZIP by random access, TAR and compressed
    streams one way). `display_name` replaces the path as the Document source.
    """
    source = display_name or str(path)
    try:
        st = os.stat(path)
    except OSError as e:
        yield Document(source, "unknown", [], 0, [f"cannot read file ({describe_error(e)})"])
        return
    if stat.S_ISDIR(st.st_mode):
        yield Document(source, "unknown", [], 0, ["not a file: a directory"])
        return
    ctx = Ctx(limits)
    if stat.S_ISREG(st.st_mode):
        inp = Input(path=Path(path), size=st.st_size)
        yield from _guarded(extract_input(inp, source, ctx, 0), source)
        return
    # A FIFO or character device can be read once only: treat it as a one-way stream.
    try:
        f = open(path, "rb")
    except OSError as e:
        yield Document(source, "unknown", [], 0, [f"cannot read file ({describe_error(e)})"])
        return
    with f:
        yield from _guarded(extract_input(Input(stream=f), source, ctx, 0), source)
