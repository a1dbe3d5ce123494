"""XLSX workbooks: every sheet (hidden and veryHidden too), every non-empty row a record.

openpyxl in read-only mode streams sheet XML (through defusedxml when installed,
which it is) and reads every cell, hidden rows and columns included. Before it
sees the file the zip's declared part sizes and ratios are checked against the
same limits as any archive; zipfile never inflates a part beyond its declared
size, so the check bounds what openpyxl can decompress. Blank rows and padded
cells count against `max_xlsx_cells`, so a sheet claiming row 10**12 ends quickly.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
import warnings
import zipfile
from collections.abc import Callable

from leakwatch.models import Document

from .limits import RATIO_FLOOR, LimitHit, Limits, clean_name, describe_error, fmt_bytes, fmt_ratio
from .tabular import TableBuilder
from .text import Sink

# openpyxl warns (UserWarning) about extensions it drops and missing default styles:
# noise for a scanner. Filtered once here rather than with catch_warnings per call,
# which is not thread-safe and extraction may run in executor threads.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")

_WORKBOOK = re.compile(r"xl/[^/]*workbook[^/]*\.xml", re.I)


def is_xlsx(infos: list[zipfile.ZipInfo]) -> bool:
    """A zip holding an OOXML spreadsheet (xlsx, xlsm, xltx) rather than an archive of files."""
    return any(_WORKBOOK.fullmatch(zi.filename) for zi in infos)


def check_parts(infos: list[zipfile.ZipInfo], limits: Limits) -> tuple[str | None, int]:
    """(reason to refuse, or None; total declared decompressed size)."""
    if len(infos) > limits.max_members:
        return f"XLSX has more than {limits.max_members} parts: not scanned", 0
    total = 0
    for zi in infos:
        if zi.flag_bits & 0x1:
            return "malformed XLSX: encrypted part", 0
        if zi.file_size > RATIO_FLOOR and zi.file_size > max(zi.compress_size, 1) * limits.max_ratio:
            return (
                f"XLSX part compression ratio above {fmt_ratio(limits.max_ratio)} "
                "(possible zip bomb): not scanned",
                0,
            )
        if "sharedstrings" in zi.filename.lower() and zi.file_size > limits.max_document_bytes:
            return f"XLSX shared strings larger than {fmt_bytes(limits.max_document_bytes)}: not scanned", 0
        total += zi.file_size
    if total > limits.max_total_bytes:
        return f"XLSX larger than {fmt_bytes(limits.max_total_bytes)} decompressed: not scanned", 0
    return None, total


_STRING = re.compile(rb"<(?:\w{1,16}:)?t(?:\s[^<>]{0,512})?>([^<]*+)</(?:\w{1,16}:)?t>")


def _salvage(fileobj, infos: list[zipfile.ZipInfo], sink: Sink, limits: Limits) -> None:
    """When openpyxl gives up: the text runs (<t>) of shared strings and sheets, as prose.

    A regex over the raw bytes, not an XML parser, so DTDs and entities are never
    expanded; every part was size-checked by `check_parts` already.
    """
    try:
        fileobj.seek(0)
        zf = zipfile.ZipFile(fileobj)
    except Exception:
        return
    with zf:
        for zi in infos:
            low = zi.filename.lower()
            if not low.endswith(".xml") or not ("sharedstrings" in low or "/worksheets/" in low):
                continue
            chunks = []
            try:
                with zf.open(zi) as f:
                    while len(chunks) * 65536 < limits.max_document_bytes:
                        b = f.read(65536)
                        if not b:
                            break
                        chunks.append(b)
            except Exception:
                pass  # keep what was read: a CRC error comes at the very end
            name = clean_name(zi.filename, 200)
            for k, m in enumerate(_STRING.finditer(b"".join(chunks)), 1):
                text = m.group(1).decode("utf-8", "replace")
                text = unescape(text).strip() if "&" in text else text.strip()
                if text and not sink.prose(text, f"{name} string {k}"):
                    return


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))  # pay numbers stored as numbers: 4471, not 4471.0
        return repr(v)
    if isinstance(v, dt.datetime):
        if v.hour == v.minute == v.second == v.microsecond == 0:
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    return str(v).strip()


def extract_xlsx(
    fileobj,
    infos: list[zipfile.ZipInfo],
    source: str,
    limits: Limits,
    size: int,
    charge: Callable[[int], None] | None = None,
) -> Document:
    """One Document for the whole workbook; never raises for a malformed file."""
    reason, total = check_parts(infos, limits)
    if reason is None and charge is not None:
        try:
            charge(total)
        except LimitHit as e:
            reason = e.reason
    if reason is not None:
        return Document(source, "xlsx", [], size, [reason])

    import openpyxl  # imported late: it is slow to import and only XLSX needs it

    sink = Sink(limits)
    rejections: list[str] = []
    try:
        fileobj.seek(0)
        wb = openpyxl.load_workbook(fileobj, read_only=True, data_only=True, keep_links=False)
    except Exception as e:  # openpyxl raises anything from KeyError to TypeError on bad input
        _salvage(fileobj, infos, sink, limits)
        notes = [f"malformed XLSX: {describe_error(e)}"]
        if sink.records:
            notes.append("text salvaged from the raw sheet XML")
        return Document(source, "xlsx", sink.records, size, notes + sink.rejections(limits))
    try:
        cells_left = limits.max_xlsx_cells
        for number, ws in enumerate(wb.worksheets, 1):
            if sink.full or cells_left < 0:
                break
            title = clean_name(str(ws.title), 100)
            tb = TableBuilder(sink)
            try:
                ws.reset_dimensions()  # trust the cells, not the declared dimension
                for r, row in enumerate(ws.iter_rows(values_only=True), 1):
                    cells_left -= len(row) or 1
                    if cells_left < 0:
                        rejections.append(f"more than {limits.max_xlsx_cells} XLSX cells: rest not scanned")
                        break
                    if not row:
                        continue
                    cells = ["" if v is None else v.strip() if type(v) is str else _cell(v) for v in row]
                    while cells and not cells[-1]:
                        cells.pop()
                    if cells and not tb.add(f"{title}!row {r}", cells):
                        break
            except Exception as e:
                rejections.append(f"malformed XLSX: sheet {number}: {describe_error(e)}")
            tb.finish()
    except Exception as e:
        rejections.append(f"malformed XLSX: {describe_error(e)}")
    finally:
        try:
            wb.close()
        except Exception:
            pass
    return Document(source, "xlsx", sink.records, size, rejections + sink.rejections(limits))
