"""leakwatch.extract: hard limits on lines, documents and records; reasons never quote content.

All data is synthetic: made-up names, numbers and places.
"""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

from leakwatch.extract import Limits, extract_bytes, extract_path

MiB = 2**20
SENTINEL = "Alys Penhallow"


def test_fifty_megabyte_single_line_is_cut_not_hung():
    """A 50 MB line is cut into pieces of at most max_line_chars, quickly, and nothing is lost."""
    words = (b"lorem ipsum dolor sit amet " * 2_000_000)[: 50 * 10**6]
    data = words[: 25 * 10**6] + SENTINEL.encode() + words[25 * 10**6 :]
    t = time.perf_counter()
    (doc,) = extract_bytes(data, "one-line.txt")
    assert time.perf_counter() - t < 10
    assert doc.kind == "text"
    assert 50 <= len(doc.records) <= 52
    assert all(len(r.text) <= 1_000_000 for r in doc.records)
    assert doc.records[0].where == "line 1 (part 1)" and doc.records[-1].where.startswith("line 1 (part ")
    assert "".join(r.text for r in doc.records) == data.decode()
    assert sum(SENTINEL in r.text for r in doc.records) == 1  # cut at whitespace, never inside a word
    assert any("cut into pieces" in r for r in doc.rejections)


def test_long_line_in_csv_does_not_break_the_table():
    """An over-long line inside a CSV becomes prose pieces and the rows around it stay table records."""
    data = b"Name,Pay number\nMorwenna Trevithick,5520\n" + b"x " * 600_000 + b"\nKerenza Nancarrow,6603\n"
    (doc,) = extract_bytes(data, "a.csv", Limits(max_line_chars=100_000))
    rows = [r for r in doc.records if r.cells]
    assert [r.cells for r in rows] == [("Morwenna Trevithick", "5520"), ("Kerenza Nancarrow", "6603")]
    assert rows[1].where == "line 4" and rows[1].headers == ("Name", "Pay number")
    assert sum(1 for r in doc.records if r.where.startswith("line 3 (part")) == 12


def test_extract_path_reads_only_the_first_64_mib(tmp_path):
    """A file over max_document_bytes: the first 64 MiB are scanned, the rest never read, with the reason."""
    p = tmp_path / "huge-paste.txt"
    line = b"Morwenna Trevithick works at Truro station " * 24 + b"\n"  # ~1 KB lines: few records, fast
    with open(p, "wb") as f:
        f.write(line * (70 * MiB // len(line)))  # 70 MiB of text ...
        f.seek(400 * MiB)  # ... then a sparse hole ...
        f.write(SENTINEL.encode() + b"\n")  # ... and a name far beyond the limit
    tracemalloc.start()
    try:
        (doc,) = extract_path(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert doc.rejections[:1] == ["document larger than 64 MiB: first 64 MiB scanned"]
    assert doc.size == p.stat().st_size
    assert doc.records[0].text == line.decode().rstrip("\n")
    assert not any(SENTINEL in r.text for r in doc.records[-5:])
    assert peak < 400 * MiB  # never holds the 400 MiB file


def test_document_limit_applies_to_archive_members_too():
    """A member larger than max_document_bytes is cut with the same reason."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"".join(b"Person %d Penhallow\n" % i for i in range(200_000)))
    (doc,) = extract_bytes(buf.getvalue(), "a.zip", Limits(max_document_bytes=MiB))
    assert doc.rejections == ["document larger than 1 MiB: first 1 MiB scanned"]
    assert doc.records[0].text == "Person 0 Penhallow" and doc.size > MiB


def test_max_records_cap():
    """Past max_records the rest of a document is not scanned, and the reason says so."""
    data = b"".join(b"line %d\n" % i for i in range(1000))
    (doc,) = extract_bytes(data, "a.txt", Limits(max_records=100))
    assert len(doc.records) == 100 and doc.records[-1].where == "line 100"
    assert doc.rejections == ["more than 100 records: rest not scanned"]


def test_rejection_reasons_never_quote_content():
    """Reasons for malformed and over-limit input mention sizes, formats and file names, never content."""
    name = SENTINEL.encode()
    inputs = {
        "truncated.json": b'[{"name": "' + name + b'"}, {"name": "' + name,
        "bad.xlsx": _bad_xlsx(name),
        "broken.zip": b"PK\x03\x04" + name * 10,
        "broken.gz": b"\x1f\x8b\x08\x00" + name * 10,
        "long.txt": name + b" " * 3000,
        "records.csv": b"a,b\n" + (name + b",1\n") * 50,
    }
    limits = Limits(max_line_chars=1000, max_records=10)
    for fname, data in inputs.items():
        for doc in extract_bytes(data, fname, limits):
            for reason in doc.rejections:
                assert SENTINEL not in reason and "Penhallow" not in reason, (fname, reason)


def _bad_xlsx(name: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("xl/workbook.xml", b"<workbook><sheets><sheet name='" + name + b"' r:id='" + name + b"'/>")
    return buf.getvalue()


def test_bytes_like_inputs_accepted():
    """extract_bytes takes bytearray and memoryview as well as bytes."""
    for data in (bytearray(b"Alys Penhallow\n"), memoryview(b"Alys Penhallow\n")):
        (doc,) = extract_bytes(data, "x.txt")
        assert doc.records[0].text == "Alys Penhallow"


def test_legacy_office_file_gives_strings_and_a_note():
    """An OLE2 file (legacy .xls or encrypted Office) yields its printable strings and says it was not parsed."""
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"\x01\x02" + SENTINEL.encode() + b"\x00\x03" + "Kerenza Nancarrow".encode("utf-16-le")
    (doc,) = extract_bytes(data, "staff.xls")
    assert doc.kind == "binary"
    assert {SENTINEL, "Kerenza Nancarrow"} <= {r.text for r in doc.records}
    assert doc.rejections == ["legacy or encrypted Office file (OLE2): only printable strings scanned"]


def test_empty_input():
    """Empty input is one empty Document, not an error."""
    (doc,) = extract_bytes(b"", "empty.txt")
    assert doc.records == [] and doc.rejections == [] and doc.size == 0
