"""leakwatch.extract: text formats (plain, CSV/TSV, JSON/NDJSON, HTML, Markdown, SQL) and encodings.

All data is synthetic: made-up names, numbers and places.
"""

from __future__ import annotations

import json

from leakwatch.extract import Limits, extract_bytes, extract_path
from leakwatch.models import Document


def one(data: bytes, name: str = "paste", limits: Limits = Limits()) -> Document:
    docs = list(extract_bytes(data, name, limits))
    assert len(docs) == 1, [d.source for d in docs]
    return docs[0]


def texts(doc: Document) -> list[str]:
    return [r.text for r in doc.records]


# ------------------------------------------------------------------ plain text


def test_plain_text_one_record_per_line():
    """Plain text gives one prose record per non-blank line, located by 1-based line number."""
    doc = one(b"Alys Penhallow, PC 4471\n\n   \nMorwenna Trevithick\r\nlast line", "notes.txt")
    assert doc.kind == "text" and doc.source == "notes.txt"
    assert texts(doc) == ["Alys Penhallow, PC 4471", "Morwenna Trevithick", "last line"]
    assert [r.where for r in doc.records] == ["line 1", "line 4", "line 5"]
    assert all(r.cells is None and r.table is None for r in doc.records)
    assert doc.rejections == [] and doc.size == 59


def test_plain_text_old_mac_line_endings():
    """A bare CR ends a line too, so CR-only files still split into lines."""
    doc = one(b"one Alys\rtwo Penhallow\rthree")
    assert [(r.text, r.where) for r in doc.records] == [("one Alys", "line 1"), ("two Penhallow", "line 2"), ("three", "line 3")]


def test_extract_path_plain_file_uses_display_name(tmp_path):
    """extract_path reads a file and names the Document by display_name when given."""
    p = tmp_path / "dump.txt"
    p.write_bytes(b"Alys Penhallow\n")
    (doc,) = extract_path(p, display_name="https://paste.example/abc")
    assert doc.source == "https://paste.example/abc" and texts(doc) == ["Alys Penhallow"]
    (doc,) = extract_path(str(p))
    assert doc.source == str(p)


def test_extract_path_missing_file_is_a_rejection(tmp_path):
    """A missing file yields one record-less Document with a reason, not an exception."""
    (doc,) = extract_path(tmp_path / "nope.txt")
    assert doc.records == [] and doc.rejections and "cannot read file" in doc.rejections[0]


# ------------------------------------------------------------------ encodings


def test_utf16_with_bom_decodes():
    """UTF-16 (LE and BE) with a BOM decodes to the right text."""
    text = "Siân Penhallow\nMorwenna Trevithick\n"
    for enc in ("utf-16-le", "utf-16-be"):
        bom = b"\xff\xfe" if enc.endswith("le") else b"\xfe\xff"
        doc = one(bom + text.encode(enc))
        assert texts(doc) == ["Siân Penhallow", "Morwenna Trevithick"], enc


def test_utf16_without_bom_detected():
    """BOM-less UTF-16LE (NULs in every other byte) is recognised rather than read as binary."""
    doc = one("Alys Penhallow\nMorwenna Trevithick\nKerenza Nancarrow\n".encode("utf-16-le"))
    assert texts(doc) == ["Alys Penhallow", "Morwenna Trevithick", "Kerenza Nancarrow"]


def test_utf8_bom_is_dropped():
    """A UTF-8 BOM does not end up in the first record."""
    doc = one(b"\xef\xbb\xbfAlys Penhallow\n")
    assert texts(doc) == ["Alys Penhallow"]


def test_cp1252_fallback():
    """Text that is not UTF-8 but cp1252 (Windows exports) decodes as cp1252."""
    raw = "Zoë Penhallow – café £30 “quoted”\n".encode("cp1252")
    doc = one(raw)
    assert texts(doc) == ["Zoë Penhallow – café £30 “quoted”"]


def test_invalid_utf8_bytes_survive():
    """Stray invalid bytes in UTF-8 text become U+FFFD; the rest of the text is intact."""
    raw = "Siân Penhallow ✓\n".encode() + b"bad \xff\xfe bytes\n" + "Morwenna Trevithick – PS\n".encode()
    doc = one(raw)
    assert texts(doc)[0] == "Siân Penhallow ✓"
    assert "\ufffd" in texts(doc)[1] and texts(doc)[1].startswith("bad ")
    assert texts(doc)[2] == "Morwenna Trevithick – PS"


def test_binary_gives_printable_strings():
    """A binary blob yields its printable runs (ASCII and UTF-16LE) as records located by offset."""
    raw = b"\x00\x01\x02" * 50 + b"Alys Penhallow" + b"\x00\x07" * 20 + "Kerenza Nancarrow".encode("utf-16-le") + b"\x00\x00"
    doc = one(raw, "blob.bin")
    assert doc.kind == "binary"
    assert "Alys Penhallow" in texts(doc) and "Kerenza Nancarrow" in texts(doc)
    assert all(r.where.startswith("offset ") for r in doc.records)


# ------------------------------------------------------------------ CSV / TSV

CSV = b"""Surname,Forename,Rank,Pay number,Email
Penhallow,Alys,Constable,4471,alys.penhallow@example.police.uk
Trevithick,Morwenna,Sergeant,5520,morwenna.trevithick@example.police.uk
"Nancarrow, Jr",Kerenza,Inspector,6603,
"""


def test_csv_with_header():
    """A CSV gives one record per data row with cells, headers, a table id and the row's line."""
    doc = one(CSV)  # no extension: content decides
    assert doc.kind == "csv"
    hdr = ("Surname", "Forename", "Rank", "Pay number", "Email")
    assert [r.headers for r in doc.records] == [hdr] * 3
    r0, _, r2 = doc.records
    assert r0.cells == ("Penhallow", "Alys", "Constable", "4471", "alys.penhallow@example.police.uk")
    assert r0.text == " | ".join(r0.cells) and r0.where == "line 2" and r0.table == 0
    assert r2.cells == ("Nancarrow, Jr", "Kerenza", "Inspector", "6603", "")  # padded to header length
    assert doc.tables == {0: doc.records}


def test_csv_without_header_has_no_headers():
    """A CSV whose first row is data keeps it as a record and has headers=None."""
    data = b"Penhallow,Alys,Constable,4471\nTrevithick,Morwenna,Constable,5520\nNancarrow,Kerenza,Sergeant,6603\n"
    doc = one(data, "staff.csv")
    assert doc.kind == "csv" and len(doc.records) == 3
    assert all(r.headers is None for r in doc.records)
    assert doc.records[0].cells == ("Penhallow", "Alys", "Constable", "4471") and doc.records[0].where == "line 1"


def test_csv_header_below_title_block():
    """A title line above the header is kept as prose and the header below it is found."""
    data = b"Staff list - Example Constabulary\n\nName,Collar no,Station\nAlys Penhallow,4471,Truro\nMorwenna Trevithick,5520,Bodmin\n"
    doc = one(data, "x.csv")
    assert doc.records[0].text == "Staff list - Example Constabulary" and doc.records[0].table is None
    assert [r.headers for r in doc.records[1:]] == [("Name", "Collar no", "Station")] * 2
    assert [r.where for r in doc.records[1:]] == ["line 4", "line 5"]


def test_csv_quoted_newline_keeps_row_start_line():
    """A quoted field spanning lines stays one cell; the record is located at the row's first line."""
    data = b'Name,Notes,Pay number\nAlys Penhallow,"line one\nline two",4471\nMorwenna Trevithick,ok,5520\n'
    doc = one(data)
    assert doc.records[0].cells == ("Alys Penhallow", "line one\nline two", "4471")
    assert [r.where for r in doc.records] == ["line 2", "line 4"]


def test_tsv_and_semicolon_sniffed():
    """Tab- and semicolon-separated files are sniffed without an extension."""
    tsv = one(b"Name\tRank\tPay number\nAlys Penhallow\tPC\t4471\nMorwenna Trevithick\tPS\t5520\n")
    assert tsv.kind == "tsv" and tsv.records[1].cells == ("Morwenna Trevithick", "PS", "5520")
    assert tsv.records[1].headers == ("Name", "Rank", "Pay number")
    semi = one(b"Name;Rank;Pay number\nAlys Penhallow;PC;4471\nMorwenna Trevithick;PS;5520\n")
    assert semi.kind == "csv" and semi.records[0].cells == ("Alys Penhallow", "PC", "4471")


def test_prose_with_commas_is_not_csv():
    """Prose stays plain text: a varying number of commas, or one comma a line between long phrases."""
    data = b"Hello, this is a note.\nAlys Penhallow, who works at Truro, said hi.\nNothing else here\n"
    assert one(data).kind == "text"
    lines = b"".join(b"Officer %d was seen at the station on Monday morning, then left for lunch\n" % i for i in range(20))
    assert one(lines).kind == "text"
    names = b"".join(b"Penhallow, Alys %d\n" % i for i in range(20))  # short cells: a real two-column list
    assert one(names).kind == "csv"


def test_csv_overlong_field_becomes_prose():
    """A field beyond the csv module's size limit does not abort the file: its lines become prose."""
    big = b"x" * 200_000
    data = b"Name,Notes,Pay number\nAlys Penhallow,\"" + big + b"\",4471\nMorwenna Trevithick,ok,5520\n"
    doc = one(data, "a.csv")
    assert any(r.cells == ("Morwenna Trevithick", "ok", "5520") for r in doc.records)
    assert any(big.decode()[:100] in r.text for r in doc.records)


# ------------------------------------------------------------------ JSON / NDJSON


def test_json_array_of_objects():
    """Each object of a top-level array is a record: keys as headers, scalars as cells, one level flattened."""
    data = json.dumps(
        [
            {"name": "Alys Penhallow", "pay": 4471, "active": True, "station": {"town": "Truro", "code": 7}, "tags": ["a", "b"]},
            {"name": "Morwenna Trevithick", "pay": 5520, "active": None},
        ]
    ).encode()
    doc = one(data)
    assert doc.kind == "json"
    r0, r1 = doc.records
    assert r0.headers == ("name", "pay", "active", "station.town", "station.code", "tags")
    assert r0.cells == ("Alys Penhallow", "4471", "true", "Truro", "7", "a; b")
    assert r0.where == "$[0]" and r1.where == "$[1]" and r0.table == r1.table
    assert r1.cells == ("Morwenna Trevithick", "5520", "")


def test_json_nested_arrays_of_objects():
    """Arrays of objects nested in objects become records located by path."""
    data = json.dumps({"force": "Example", "staff": [{"name": "Alys Penhallow"}, {"name": "Morwenna Trevithick"}],
                       "units": [{"unit": "CID", "members": [{"name": "Kerenza Nancarrow"}]}]}).encode()
    doc = one(data)
    where = {r.text: r.where for r in doc.records}
    assert where["Alys Penhallow"] == "$.staff[0]" and where["Morwenna Trevithick"] == "$.staff[1]"
    assert where["Kerenza Nancarrow"] == "$.units[0].members[0]"
    assert where["Example"] == "$"


def test_json_keys_that_are_not_identifiers_are_not_quoted_in_where():
    """A key that could be content (spaces, odd characters) appears in `where` only by position."""
    doc = one(json.dumps({"Alys Penhallow": [{"pay": 4471}]}).encode())
    assert doc.records[0].where == "$[#0][0]" and "Alys" not in doc.records[0].where


def test_truncated_json_keeps_complete_elements():
    """A JSON array cut short still yields every complete element; the rest is kept as text."""
    full = json.dumps([{"name": f"Person {i}", "pay": 1000 + i} for i in range(50)])
    doc = one(full[: len(full) // 2].encode(), "cut.json")
    assert doc.kind == "json"
    tabular = [r for r in doc.records if r.cells]
    assert 20 <= len(tabular) < 50 and tabular[0].cells == ("Person 0", "1000")
    assert any("truncated JSON" in r for r in doc.rejections)


def test_ndjson_lines():
    """NDJSON: each line's object is a record located by its line number."""
    data = b'{"name": "Alys Penhallow", "pay": 4471}\n\n{"name": "Morwenna Trevithick", "pay": 5520}\nnot json\n'
    doc = one(data)
    assert doc.kind == "ndjson"
    assert [(r.where, r.cells) for r in doc.records[:2]] == [
        ("line 1", ("Alys Penhallow", "4471")),
        ("line 3", ("Morwenna Trevithick", "5520")),
    ]
    assert doc.records[2].text == "not json" and doc.records[2].cells is None


def test_bracketed_log_is_not_json():
    """A log that starts with '[' but is not JSON stays text."""
    doc = one(b"[INFO] user Alys Penhallow logged in\n[WARN] bad\n")
    assert doc.kind == "text" and len(doc.records) == 2


def test_deeply_nested_json_does_not_crash():
    """Pathologically deep JSON nesting is handled without an exception escaping."""
    doc = one(b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(doc, Document)


# ------------------------------------------------------------------ HTML


HTML = b"""<!DOCTYPE html>
<html><head><title>Staff</title><style>td { color: red }</style>
<script>var secret = "not visible";</script></head>
<body>
<h1>Example Constabulary</h1>
<p>Contact: Alys &amp; Morwenna</p>
<table>
  <thead><tr><th>Name</th><th>Rank</th><th>Pay number</th></tr></thead>
  <tbody>
  <tr><td>Alys Penhallow</td><td>Constable</td><td>4471</td></tr>
  <tr><td>Morwenna <b>Trevithick</b></td><td>Sergeant</td><td>5520</td></tr>
  </tbody>
</table>
<!-- removed: Kerenza Nancarrow 6603 -->
</body></html>
"""


def test_html_prose_and_tables():
    """HTML gives visible text as prose and table rows as records with <th> headers; script/style dropped."""
    doc = one(HTML)
    assert doc.kind == "html"
    prose = [r.text for r in doc.records if r.cells is None]
    assert "Example Constabulary" in prose and "Contact: Alys & Morwenna" in prose
    assert not any("secret" in t or "color" in t for t in texts(doc))
    rows = [r for r in doc.records if r.cells]
    assert [r.cells for r in rows] == [("Alys Penhallow", "Constable", "4471"), ("Morwenna Trevithick", "Sergeant", "5520")]
    assert all(r.headers == ("Name", "Rank", "Pay number") for r in rows)
    assert rows[0].where == "line 10" and rows[1].where == "line 11"
    assert any("Kerenza Nancarrow" in t for t in prose)  # commented-out data is still scanned


def test_html_hostile_markup_is_fast():
    """Markup that makes html.parser quadratic (unclosed tags, stray '<') is handled in linear time."""
    import time

    for bad in (b"<a " * 200_000, b"<" * 500_000, b"</" * 300_000, b"<!--" + b"a" * 1_000_000, b"<a href='" * 100_000):
        t = time.perf_counter()
        one(b"<html><body>" + bad)
        assert time.perf_counter() - t < 2.0, bad[:10]


# ------------------------------------------------------------------ Markdown


def test_markdown_table():
    """A Markdown pipe table gives table records with headers; other lines are prose."""
    data = b"# Rota\n\nSome text.\n\n| Name | Rank | Pay no |\n|:-----|------|-------:|\n| Alys Penhallow | PC | 4471 |\n| Morwenna \\| M | PS | 5520 |\n\nAfter.\n"
    doc = one(data)
    assert doc.kind == "markdown"
    rows = [r for r in doc.records if r.cells]
    assert [r.cells for r in rows] == [("Alys Penhallow", "PC", "4471"), ("Morwenna | M", "PS", "5520")]
    assert rows[0].headers == ("Name", "Rank", "Pay no") and rows[0].where == "line 7"
    assert [r.text for r in doc.records if r.cells is None] == ["# Rota", "Some text.", "After."]


# ------------------------------------------------------------------ SQL

SQL = b"""-- MySQL dump 10.13
CREATE TABLE `officers` (
  `id` int NOT NULL,
  `surname` varchar(64) DEFAULT NULL,
  `forename` varchar(64),
  PRIMARY KEY (`id`)
);
INSERT INTO `officers` VALUES (1,'Penhallow','Alys'),(2,'O\\'Trevithick','Morwenna'),
(3,'Nancarrow',NULL);
INSERT INTO staff (pay_no, full_name) VALUES (4471, 'Alys Penhallow');
INSERT INTO odd VALUES (5, CONCAT('Keren','za'), _utf8mb4'Nancarrow');
COPY public.people (id, name) FROM stdin;
7\tDemelza Rowe
8\t\\N
\\.
-- Dump completed
"""


def test_sql_insert_rows_with_headers():
    """Each INSERT tuple is a record; headers come from the column list or an earlier CREATE TABLE."""
    doc = one(SQL, "backup.sql")
    assert doc.kind == "sql"
    rows = [r for r in doc.records if r.cells]
    by_text = {r.text: r for r in rows}
    r = by_text["1 | Penhallow | Alys"]
    assert r.headers == ("id", "surname", "forename") and r.where == "line 8"
    assert by_text["2 | O'Trevithick | Morwenna"].where == "line 8"
    assert by_text["3 | Nancarrow | "].where == "line 9"
    assert by_text["4471 | Alys Penhallow"].headers == ("pay_no", "full_name")
    odd = [r for r in rows if r.cells[0] == "5"][0]
    assert odd.headers is None and "Nancarrow" in odd.cells[2]
    assert by_text["7 | Demelza Rowe"].headers == ("id", "name") and by_text["7 | Demelza Rowe"].where == "line 13"
    prose = [r.text for r in doc.records if r.cells is None]
    assert "-- MySQL dump 10.13" in prose and "-- Dump completed" in prose
    tables = {r.table for r in rows}
    assert len(tables) == 4  # officers, staff, odd, people


def test_sql_detected_without_extension_and_hostile_quotes_fast():
    """SQL is sniffed from content; an unterminated quote is kept as prose quickly, not backtracked over."""
    import time

    data = b"INSERT INTO t VALUES (1,'Alys Penhallow');\n" + b"INSERT INTO t VALUES ('\\'" * 100_000
    t = time.perf_counter()
    doc = one(data)
    assert time.perf_counter() - t < 3.0
    assert doc.kind == "sql" and doc.records[0].cells == ("1", "Alys Penhallow")
