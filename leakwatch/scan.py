"""Scanning: files, folders and archives -> documents -> evidence -> findings.

The hashed roster is loaded once in the parent; worker processes are forked so
they share it copy-on-write instead of each receiving a pickled copy.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from leakwatch.config import Config
from leakwatch.engine import assess
from leakwatch.index import MatchContext
from leakwatch.models import Document, Finding
from leakwatch.plugins import load_matchers

log = logging.getLogger("leakwatch.scan")

if TYPE_CHECKING:  # pragma: no cover
    from leakwatch.extract import Limits


def limits_from(cfg: Config) -> "Limits":
    from leakwatch.extract import Limits

    s = cfg.limits
    return Limits(max_document_bytes=s.max_document_mb * 2**20, max_total_bytes=s.max_total_mb * 2**20,
                  max_ratio=s.max_ratio, max_members=s.max_members, max_depth=s.max_depth)


class Scanner:
    """Runs every matcher over a document and scores the evidence. Pure: no I/O."""

    def __init__(self, ctx: MatchContext, matchers=None):
        self.ctx = ctx
        self.matchers = matchers if matchers is not None else load_matchers()

    def scan_document(self, doc: Document) -> Finding:
        evidence = []
        try:
            for m in self.matchers:
                evidence.extend(m.match(doc, self.ctx))
        finally:
            self.ctx.end_document()  # matchers share work per document (MatchContext.per_document)
        return assess(doc, evidence, self.ctx)

    def scan_bytes(self, data: bytes, name: str, limits: "Limits") -> list[Finding]:
        from leakwatch.extract import extract_bytes

        return [self.scan_document(doc) for doc in extract_bytes(data, name, limits)]

    def scan_file(self, path: Path, limits: "Limits", display: str | None = None) -> list[Finding]:
        from leakwatch.extract import extract_path

        return [self.scan_document(doc) for doc in extract_path(path, limits, display_name=display)]


@dataclass(slots=True)
class FileResult:
    path: str
    size: int
    findings: list[dict]
    error: str | None = None


def iter_files(paths: list[str]) -> Iterator[tuple[Path, str]]:
    """(path, display name) for every regular file under the given paths, in a stable order."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    f = Path(root) / name
                    if f.is_file() and not f.is_symlink():
                        yield f, str(f)
        elif p.is_file():
            yield p, str(p)
        else:
            raise FileNotFoundError(raw)


_scanner: Scanner | None = None
_limits: "Limits | None" = None


def _scan_one(item: tuple[str, str]) -> FileResult:
    path, display = item
    p = Path(path)
    try:
        size = p.stat().st_size
        findings = _scanner.scan_file(p, _limits, display)
        return FileResult(display, size, [f.to_json() | {"_severity": int(f.severity)} for f in findings])
    except OSError as exc:
        return FileResult(display, 0, [], f"cannot read: {exc.strerror or type(exc).__name__}")
    except Exception as exc:  # a bug on one file must not end a scan of thousands: reported, exit 2
        log.exception("scan_failed", extra={"fields": {"path": display}})
        return FileResult(display, 0, [], f"internal error ({type(exc).__name__}); see log")


def _scan_batch(items: list[tuple[str, str]]) -> list[FileResult]:
    return [_scan_one(item) for item in items]


BATCH_BYTES = 4 * 2**20  # small files are sent to a worker in batches of about this many bytes ...
BATCH_FILES = 16  # ... or this many files


def _batches(items: list[tuple[str, str]]) -> list[list[int]]:
    """Positions of the items grouped into worker tasks, biggest files first.

    A big file handed out last keeps one worker busy while the others idle; handed
    out first, the small ones fill in around it.
    """
    sizes = []
    for path, _ in items:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)
    order = sorted(range(len(items)), key=lambda i: -sizes[i])
    out: list[list[int]] = []
    batch: list[int] = []
    size = 0
    for i in order:
        if batch and (size + sizes[i] > BATCH_BYTES or len(batch) >= BATCH_FILES):
            out.append(batch)
            batch, size = [], 0
        batch.append(i)
        size += sizes[i]
    if batch:
        out.append(batch)
    return out


def scan_files(files: list[tuple[Path, str]], scanner: Scanner, limits: "Limits",
               workers: int = 0) -> Iterator[FileResult]:
    """Scan files, in worker processes when there are several; yields results in input order."""
    global _scanner, _limits
    _scanner, _limits = scanner, limits
    # The loaded roster and reference tables live until the scan ends: out of the cyclic
    # collector's sight they cost no time in each collection, and forked workers share
    # their pages instead of copying them when the collector touches them.
    gc.freeze()
    from leakwatch.pipeline.work import die_with_parent, tune_gc

    tune_gc()  # inherited by the forked workers
    items = [(str(p), d) for p, d in files]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(items) <= 1:
        for item in items:
            yield _scan_one(item)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        # Biggest files are scanned first; results are held until their turn in input order.
        where: list[tuple[object, int]] = [None] * len(items)  # type: ignore[list-item]
        for batch in _batches(items):
            fut = pool.submit(_scan_batch, [items[i] for i in batch])
            for k, i in enumerate(batch):
                where[i] = (fut, k)
        for i in range(len(items)):
            fut, k = where[i]
            yield fut.result()[k]
            where[i] = None  # type: ignore[call-overload]


def count_size(files: list[tuple[Path, str]]) -> int:
    total = 0
    for p, _ in files:
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total
