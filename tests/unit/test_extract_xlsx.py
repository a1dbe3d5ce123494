"""leakwatch.extract: XLSX workbooks, hidden sheets/rows/columns, and malformed or hostile XLSX.

All data is synthetic: made-up names, numbers and places.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib

import openpyxl
import pytest

from leakwatch.extract import Limits, extract_bytes, extract_path
from leakwatch.models import Document


def build_workbook(path) -> None:
    """A workbook shaped like the 2023 PSNI leak: the data hides in hidden places."""
    wb = openpyxl.Workbook()
    front = wb.active
    front.title = "Summary"
    front["A1"] = "Headcount by district"
    front.append(["District", "Count"])
    front.append(["North", 12])

    staff = wb.create_sheet("Sheet2")
    staff.sheet_state = "hidden"
    staff["A1"] = "Example Constabulary - staff list"  # title block
    staff["A2"] = "Generated 2023-08-08"
    staff.append([])
    staff.append(["Surname", "Forename", "Rank", "Pay number", "Start date"])  # row 4
    staff.append(["Penhallow", "Alys", "Constable", 4471, dt.datetime(2015, 3, 1)])
    staff.append(["Trevithick", "Morwenna", "Sergeant", 5520.0, dt.datetime(2011, 9, 12, 8, 30)])
    staff.append(["Nancarrow", "Kerenza", "Inspector", 6603, None])  # row 7: hidden row
    staff.row_dimensions[7].hidden = True
    staff.column_dimensions["C"].hidden = True  # hidden column: the ranks
    for r in range(8, 40):
        staff.append([f"Surname{r}", f"Forename{r}", "Constable", 7000 + r, None])
    staff.cell(row=40, column=1, value="Rowe")
    staff.cell(row=40, column=2, value="Demelza")
    staff.cell(row=40, column=4, value=8123)

    secret = wb.create_sheet("Vault")
    secret.sheet_state = "veryHidden"
    secret.append(["Name", "Email", "Vetting level"])
    secret.append(["Jory Pascoe", "jory.pascoe@example.police.uk", "DV"])
    secret.column_dimensions["B"].hidden = True
    wb.save(path)


@pytest.fixture
def workbook(tmp_path):
    path = tmp_path / "foi-response.xlsx"
    build_workbook(path)
    return path


def records_by_where(doc: Document) -> dict:
    return {r.where: r for r in doc.records}


def test_xlsx_reads_hidden_and_very_hidden_sheets_rows_columns(workbook):
    """Hidden and veryHidden sheets, hidden rows and hidden columns are all extracted."""
    docs = list(extract_path(workbook))
    assert len(docs) == 1
    doc = docs[0]
    assert doc.kind == "xlsx" and doc.rejections == [] and doc.source == str(workbook)
    w = records_by_where(doc)
    assert w["Sheet2!row 7"].cells == ("Nancarrow", "Kerenza", "Inspector", "6603", "")  # hidden row
    assert w["Sheet2!row 5"].cells[2] == "Constable"  # hidden column
    assert w["Vault!row 2"].cells == ("Jory Pascoe", "jory.pascoe@example.police.uk", "DV")  # veryHidden
    assert w["Vault!row 2"].headers == ("Name", "Email", "Vetting level")
    assert w["Sheet2!row 40"].cells == ("Rowe", "Demelza", "", "8123", "")


def test_xlsx_header_found_below_title_block(workbook):
    """The header row is found below a title block; title rows are prose, data rows carry the headers."""
    (doc,) = extract_path(workbook)
    w = records_by_where(doc)
    hdr = ("Surname", "Forename", "Rank", "Pay number", "Start date")
    assert w["Sheet2!row 1"].cells is None and w["Sheet2!row 1"].text == "Example Constabulary - staff list"
    assert "Sheet2!row 4" not in w  # the header row itself is not a record
    assert w["Sheet2!row 5"].headers == hdr and w["Sheet2!row 5"].table == w["Sheet2!row 39"].table
    assert w["Sheet2!row 5"].text == "Penhallow | Alys | Constable | 4471 | 2015-03-01"
    assert w["Sheet2!row 6"].cells[3:] == ("5520", "2011-09-12 08:30:00")  # 5520.0 shown as 5520
    sheets = {r.where.split("!")[0] for r in doc.records}
    assert sheets == {"Summary", "Sheet2", "Vault"}
    assert len({w[k].table for k in ("Summary!row 3", "Sheet2!row 5", "Vault!row 2")}) == 3


def test_xlsx_from_bytes_and_inside_zip(workbook):
    """An XLSX is a spreadsheet, not an archive: from bytes and as an archive member alike."""
    data = workbook.read_bytes()
    (doc,) = extract_bytes(data, "leak.xlsx")
    assert doc.kind == "xlsx" and any(r.where == "Vault!row 2" for r in doc.records)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("foi/response.xlsx", data)
        z.writestr("readme.txt", "nothing here\n")
    docs = {d.source: d for d in extract_bytes(buf.getvalue(), "bundle.zip")}
    assert set(docs) == {"bundle.zip!foi/response.xlsx", "bundle.zip!readme.txt"}
    assert docs["bundle.zip!foi/response.xlsx"].kind == "xlsx"
    assert any(r.text.startswith("Jory Pascoe") for r in docs["bundle.zip!foi/response.xlsx"].records)


def _rewrite(xlsx: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    dst.writestr(info.filename, replace[info.filename])
            else:
                dst.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


def _one(data: bytes, name: str = "bad.xlsx", limits: Limits = Limits()) -> Document:
    docs = list(extract_bytes(data, name, limits))
    assert len(docs) == 1
    return docs[0]


def test_truncated_xlsx_is_rejected(workbook):
    """A truncated XLSX gives a Document with a 'malformed' reason, not an exception."""
    data = workbook.read_bytes()
    doc = _one(data[: len(data) // 2], name="paste-xyz")  # no extension: known by its part names
    assert doc.records == [] and doc.kind == "xlsx"
    assert doc.rejections == ["malformed XLSX: corrupt or truncated zip"]


def test_garbage_sheet_xml_is_rejected_and_text_salvaged(workbook):
    """Garbage sheet XML gives a 'malformed XLSX' reason; the text runs of the raw sheet XML are salvaged."""
    data = _rewrite(workbook.read_bytes(), {"xl/worksheets/sheet2.xml": b"<worksheet><sheetData><row r='1'><c>Alys Penh"})
    doc = _one(data)
    assert doc.rejections[0] == "malformed XLSX: XML parse error", doc.rejections
    assert not any("Alys" in r for r in doc.rejections)  # reasons never quote content
    salvaged = {r.text: r.where for r in doc.records}
    assert salvaged["Jory Pascoe"] == "xl/worksheets/sheet3.xml string 4"  # the veryHidden sheet's text


def test_sheet_truncated_mid_stream_keeps_rows_read(workbook):
    """A sheet whose XML breaks after some rows keeps those rows and names the sheet in the reason."""
    src = workbook.read_bytes()
    with zipfile.ZipFile(io.BytesIO(src)) as z:
        sheet = z.read("xl/worksheets/sheet2.xml")
    cut = sheet.index(b'<row r="30"')
    doc = _one(_rewrite(src, {"xl/worksheets/sheet2.xml": sheet[:cut] + b"<row r=\"30\"><c r=\"A30\" t=\"inlineStr\"><is><t>x"}))
    assert any(r.startswith("malformed XLSX: sheet 2") for r in doc.rejections), doc.rejections
    w = records_by_where(doc)
    assert w["Sheet2!row 7"].cells[0] == "Nancarrow" and "Vault!row 2" in w


def test_missing_workbook_part_is_rejected(workbook):
    """An XLSX missing its workbook relationships is rejected as malformed (its raw text still salvaged)."""
    doc = _one(_rewrite(workbook.read_bytes(), {"xl/_rels/workbook.xml.rels": None}))
    assert doc.rejections[0].startswith("malformed XLSX")
    assert any(r.text == "Jory Pascoe" for r in doc.records)


def test_xml_entity_bomb_is_rejected(workbook):
    """A billion-laughs entity bomb in sheet XML is refused (defusedxml), quickly and without an exception."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
        + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        + b"<si><t>&lol9;</t></si></sst>"
    )
    doc = _one(_rewrite(workbook.read_bytes(), {"xl/worksheets/sheet2.xml": bomb}))
    assert doc.rejections[0] == "malformed XLSX: XML entities forbidden (entity bomb?)"
    assert all(len(r.text) < 100 for r in doc.records)  # salvage never expands entities


def _deflate_zeros_segment() -> bytes:
    """1 MiB of zeros as a self-contained raw deflate segment that can be repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(b"\x00" * 2**20) + c.flush(zlib.Z_FULL_FLUSH)


def _raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """(name, raw deflate data, crc, declared compressed size, declared size) -> zip bytes."""
    out, central = io.BytesIO(), []
    for name, data, crc, csize, usize in entries:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, csize, usize, len(n), 0) + n + data)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, csize, usize, len(n), 0, 0, 0, 0, 0, offset) + n
        )
    cd_start = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(cd), cd_start, 0))
    return out.getvalue()


def test_sheet_xml_bomb_refused_before_openpyxl(workbook):
    """A sheet part whose declared size is a 1 GiB bomb is refused by the ratio check before parsing."""
    src = workbook.read_bytes()
    entries = []
    with zipfile.ZipFile(io.BytesIO(src)) as z:
        for info in z.infolist():
            raw = z.read(info.filename)
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(raw) + c.flush()
            entries.append((info.filename, comp, zlib.crc32(raw), len(comp), len(raw)))
    seg = _deflate_zeros_segment()
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    bomb = seg * 1024 + tail
    entries = [e for e in entries if e[0] != "xl/worksheets/sheet2.xml"]
    entries.append(("xl/worksheets/sheet2.xml", bomb, 0, len(bomb), 2**30))
    doc = _one(_raw_zip(entries))
    assert doc.records == [] and "ratio" in doc.rejections[0] and "zip bomb" in doc.rejections[0]


def test_xlsx_cell_limit_stops_a_sheet_claiming_huge_rows(tmp_path):
    """Blank rows count against max_xlsx_cells, so a row numbered in the billions cannot hang extraction."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Name", "Pay number"])
    ws.append(["Alys Penhallow", 4471])
    p = tmp_path / "a.xlsx"
    wb.save(p)
    data = p.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    sheet = sheet.replace(b"</sheetData>", b'<row r="999999999999"><c r="A999999999999" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    doc = _one(_rewrite(data, {"xl/worksheets/sheet1.xml": sheet}), limits=Limits(max_xlsx_cells=100_000))
    assert any(r.cells == ("Alys Penhallow", "4471") for r in doc.records)
    assert any("XLSX cells" in r for r in doc.rejections)
