"""leakwatch.extract: ZIP / GZIP / TAR archives, nesting, and decompression bombs.

Bombs are built as repeated self-contained deflate segments, so a "1 GiB of zeros"
member costs the test about 1 MB and a few milliseconds to make.
All data is synthetic: made-up names, numbers and places.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import tracemalloc
import zipfile
import zlib

import pytest

from leakwatch.extract import Limits, extract_bytes, extract_path
from leakwatch.models import Document

CSV = b"Name,Rank,Pay number\nAlys Penhallow,Constable,4471\nMorwenna Trevithick,Sergeant,5520\n"
MiB = 2**20


def docs_by_source(data: bytes, name: str, limits: Limits = Limits()) -> dict[str, Document]:
    return {d.source: d for d in extract_bytes(data, name, limits)}


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def make_tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zeros_deflate(mib: int) -> bytes:
    """`mib` MiB of zeros as raw deflate, built from one repeated self-contained segment."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    seg = c.compress(b"\x00" * MiB) + c.flush(zlib.Z_FULL_FLUSH)
    return seg * mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def raw_zip(entries: list[tuple[str, bytes, int, int, int, int]]) -> bytes:
    """(name, raw data, crc, declared compressed size, declared size, flags) -> zip bytes, headers as given."""
    out, central = io.BytesIO(), []
    for name, data, crc, csize, usize, flags in entries:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, 8, 0, 0, crc, csize, usize, len(n), 0) + n + data)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, 8, 0, 0, crc, csize, usize, len(n), 0, 0, 0, 0, 0, offset)
            + n
        )
    cd_start = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(cd), cd_start, 0))
    return out.getvalue()


def peak_mib(fn):
    """Run fn() under tracemalloc; return (result, peak MiB allocated by Python)."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / MiB


# ------------------------------------------------------------------ ZIP


def test_zip_members_are_documents():
    """Each zip member is its own Document named archive!member; directories and the archive itself yield none."""
    data = make_zip({"hr/staff.csv": CSV, "notes/readme.txt": b"Kerenza Nancarrow\n", "empty/": b""})
    docs = docs_by_source(data, "leak.zip")
    assert set(docs) == {"leak.zip!hr/staff.csv", "leak.zip!notes/readme.txt"}
    staff = docs["leak.zip!hr/staff.csv"]
    assert staff.kind == "csv" and staff.records[0].cells == ("Alys Penhallow", "Constable", "4471")
    assert staff.size == len(CSV) and staff.rejections == []
    assert docs["leak.zip!notes/readme.txt"].records[0].text == "Kerenza Nancarrow"


def test_zip_detected_without_extension_and_from_path(tmp_path):
    """A zip is recognised by its magic, not its name; extract_path opens it from disk."""
    p = tmp_path / "paste-8f3a"
    p.write_bytes(make_zip({"a.txt": b"Alys Penhallow\n"}))
    (doc,) = extract_path(p, display_name="paste-8f3a")
    assert doc.source == "paste-8f3a!a.txt" and doc.records[0].text == "Alys Penhallow"


def test_nested_archive_names():
    """Nested archives are named with one '!' per layer; a .tar.gz is one layer."""
    inner = gzip.compress(make_tar({"x.csv": CSV, "docs/y.txt": b"Morwenna Trevithick\n"}))
    data = make_zip({"inner.tar.gz": inner})
    docs = docs_by_source(data, "a.zip")
    assert set(docs) == {"a.zip!inner.tar.gz!x.csv", "a.zip!inner.tar.gz!docs/y.txt"}
    assert docs["a.zip!inner.tar.gz!x.csv"].records[1].cells[0] == "Morwenna Trevithick"


def test_malformed_zip_is_one_rejected_document():
    """A zip that cannot be opened yields one Document for the archive with a reason."""
    data = make_zip({"a.txt": b"Alys Penhallow\n" * 100})
    (doc,) = extract_bytes(data[:-30], "broken.zip")  # end of central directory cut off
    assert doc.source == "broken.zip" and doc.records == []
    assert doc.rejections == ["malformed zip: corrupt or truncated zip"]


def test_encrypted_member_is_rejected():
    """An encrypted zip member is not read; its Document says why."""
    data = raw_zip([("secret.csv", b"\x00" * 40, 0, 40, 28, 0x1), ("open.txt", zlib.compress(b"hi Alys\n")[2:-4], zlib.crc32(b"hi Alys\n"), len(zlib.compress(b"hi Alys\n")[2:-4]), 8, 0)])
    docs = docs_by_source(data, "x.zip")
    assert docs["x.zip!secret.csv"].rejections == ["encrypted archive member: not scanned"]
    assert docs["x.zip!secret.csv"].records == []
    assert docs["x.zip!open.txt"].records[0].text == "hi Alys"


def test_zip_bomb_refused_with_bounded_memory():
    """A member declaring 1 GiB from ~1 MB (ratio ~1000) is refused unread; memory stays small."""
    bomb = zeros_deflate(1024)
    data = raw_zip([("zeros.csv", bomb, 0, len(bomb), 2**30, 0)])
    docs, peak = peak_mib(lambda: docs_by_source(data, "bomb.zip"))
    doc = docs["bomb.zip!zeros.csv"]
    assert doc.records == [] and doc.size == 2**30
    assert doc.rejections == ["compression ratio above 200:1 (possible zip bomb): not read"]
    assert peak < 16, peak


def test_zip_member_with_lying_sizes_is_stopped_by_counting():
    """A member whose header understates its compressed size is stopped by counting real bytes, memory bounded."""
    bomb = zeros_deflate(1024)  # really inflates to 1 GiB
    # Declared: 300 MiB from 10 MiB (ratio 30, looks fine) - both sizes lie.
    data = raw_zip([("zeros.txt", bomb, 0, 10 * MiB, 300 * MiB, 0), ("after.txt", b"", 0, 0, 0, 0)])
    docs, peak = peak_mib(lambda: list(extract_bytes(data, "liar.zip")))
    doc = docs[0]
    assert doc.source == "liar.zip!zeros.txt"
    assert any("possible zip bomb" in r and "read stopped" in r for r in doc.rejections), doc.rejections
    assert peak < 40, peak  # well below the 300 MiB declared and the 1 GiB real size


def test_zip_member_whose_header_lies_small_is_cut_at_declared_size():
    """A member declaring 1 KiB that really inflates to 1 GiB yields at most 1 KiB and a read error."""
    bomb = zeros_deflate(1024)
    data = raw_zip([("small.txt", bomb, 0, len(bomb), 1024, 0)])
    (doc,), peak = peak_mib(lambda: list(extract_bytes(data, "liar.zip")))
    assert doc.size <= 1024 and any(r.startswith("read error") for r in doc.rejections)
    assert peak < 16, peak


def test_member_count_cap():
    """Past max_members the rest of the archive is skipped with one rejection on an archive Document."""
    data = make_zip({f"m{i:02d}.txt": f"Person {i}\n".encode() for i in range(25)})
    docs = list(extract_bytes(data, "many.zip", Limits(max_members=10)))
    assert len(docs) == 11
    assert [d.source for d in docs[:10]] == [f"many.zip!m{i:02d}.txt" for i in range(10)]
    assert docs[10].source == "many.zip" and docs[10].rejections == ["more than 10 archive members: rest skipped"]


def test_nesting_deeper_than_max_depth():
    """An archive nested deeper than max_depth is not opened; its Document says 'nesting deeper than 4'."""
    data = make_zip({"deep.txt": b"Alys Penhallow\n"})
    for level in range(5, 0, -1):  # l1.zip ! l2.zip ! ... ! l5.zip ! deep.txt
        data = make_zip({f"l{level}.zip": data}) if level > 1 else data
    # data is now l1 containing l2 ... containing l5 (5 zip layers in all, counting the outer one)
    docs = list(extract_bytes(data, "l1.zip"))
    assert len(docs) == 1
    doc = docs[0]
    assert doc.source == "l1.zip!l2.zip!l3.zip!l4.zip!l5.zip"
    assert doc.records == [] and doc.rejections == ["nesting deeper than 4: archive not opened"]
    ok = list(extract_bytes(data, "l1.zip", Limits(max_depth=5)))
    assert ok[0].source.endswith("!l5.zip!deep.txt") and ok[0].records[0].text == "Alys Penhallow"


def test_total_budget_across_members():
    """Once max_total_bytes of decompressed data is used the rest of the archive is skipped."""
    big = b"".join(b"Person %d Penhallow, pay number %d\n" % (i, i * 7919 % 100_000) for i in range(30_000))
    assert MiB < len(big) < 1.5 * MiB
    data = make_zip({f"part{i}.txt": big for i in range(5)})
    docs = list(extract_bytes(data, "big.zip", Limits(max_total_bytes=3 * MiB)))
    assert len(docs) == 3
    assert docs[2].rejections == ["archive contents larger than 3 MiB decompressed: rest skipped"]
    assert docs[2].records  # what was read before the limit is still extracted


def test_total_budget_applies_to_plain_tar_members():
    """Members of an uncompressed TAR count against max_total_bytes as well."""
    big = b"".join(b"Person %d Penhallow\n" % i for i in range(60_000))  # ~1.3 MB
    docs = list(extract_bytes(make_tar({f"p{i}.txt": big for i in range(5)}), "plain.tar", Limits(max_total_bytes=3 * MiB)))
    assert len(docs) == 3 and docs[2].rejections == ["archive contents larger than 3 MiB decompressed: rest skipped"]


def test_nested_zip_larger_than_document_limit_not_opened():
    """A zip inside an archive is held in memory, so one over max_document_bytes is refused, not read whole."""
    inner = make_zip({"x.bin": bytes(range(256)) * 8192})  # ~2 MiB stored-ish random-looking data
    inner = inner if len(inner) > MiB else inner + b"\x00" * MiB
    outer = make_tar({"inner.zip": inner})
    (doc,) = extract_bytes(outer, "o.tar", Limits(max_document_bytes=MiB))
    assert doc.source == "o.tar!inner.zip" and "not opened" in doc.rejections[0]


# ------------------------------------------------------------------ GZIP / BZIP2 / XZ


def test_gzip_single_file_named_from_header_or_suffix():
    """A gzip yields one Document named from the stored file name, else the name minus .gz."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="staff.csv", mode="wb", fileobj=buf, mtime=0) as g:
        g.write(CSV)
    (doc,) = extract_bytes(buf.getvalue(), "upload.bin")
    assert doc.source == "upload.bin!staff.csv" and doc.kind == "csv"
    (doc,) = extract_bytes(gzip.compress(b"Alys Penhallow\n", mtime=0), "dump.txt.gz")
    assert doc.source == "dump.txt.gz!dump.txt" and doc.records[0].text == "Alys Penhallow"


def test_bzip2_and_xz_streams():
    """bzip2 and xz single-file streams are decompressed like gzip."""
    (doc,) = extract_bytes(bz2.compress(CSV), "s.csv.bz2")
    assert doc.source == "s.csv.bz2!s.csv" and doc.records[0].cells[0] == "Alys Penhallow"
    (doc,) = extract_bytes(lzma.compress(make_tar({"t.txt": b"Kerenza\n"})), "a.txz")
    assert doc.source == "a.txz!t.txt" and doc.records[0].text == "Kerenza"


def test_gzip_bomb_stopped_with_bounded_memory():
    """1 GiB of gzipped zeros is stopped by the ratio check after a few MiB; memory stays small."""
    body = zeros_deflate(1024)
    data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<2L", 0, 0)
    (doc,), peak = peak_mib(lambda: list(extract_bytes(data, "zeros.gz")))
    assert doc.source == "zeros.gz!zeros"
    assert any("possible zip bomb" in r for r in doc.rejections), doc.rejections
    assert doc.size < 8 * MiB and peak < 40, (doc.size, peak)


def test_truncated_gzip_keeps_text_read():
    """A gzip cut short keeps the text decompressed so far and records a read error."""
    lines = b"".join(b"Person %d Penhallow\n" % i for i in range(20_000))
    data = gzip.compress(lines, mtime=0)
    (doc,) = extract_bytes(data[: len(data) // 2], "cut.txt.gz")
    assert doc.records[0].text == "Person 0 Penhallow" and len(doc.records) > 1000
    assert any(r.startswith("read error") for r in doc.rejections)


# ------------------------------------------------------------------ TAR


def test_tar_skips_links_devices_fifos_and_dirs(tmp_path):
    """Only regular tar members are read: symlinks, hard links, devices, FIFOs and directories are ignored."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, kind, extra in [
            ("etc-passwd", tarfile.SYMTYPE, {"linkname": "/etc/passwd"}),
            ("hard", tarfile.LNKTYPE, {"linkname": "real.txt"}),
            ("dev-zero", tarfile.CHRTYPE, {"devmajor": 1, "devminor": 5}),
            ("disk", tarfile.BLKTYPE, {"devmajor": 8, "devminor": 0}),
            ("pipe", tarfile.FIFOTYPE, {}),
            ("dir", tarfile.DIRTYPE, {}),
        ]:
            info = tarfile.TarInfo(name)
            info.type = kind
            for k, v in extra.items():
                setattr(info, k, v)
            t.addfile(info)
        info = tarfile.TarInfo("real.txt")
        info.size = 15
        t.addfile(info, io.BytesIO(b"Alys Penhallow\n"))
    p = tmp_path / "a.tar"
    p.write_bytes(buf.getvalue())
    docs = list(extract_path(p, display_name="a.tar"))
    assert [d.source for d in docs] == ["a.tar!real.txt"]
    assert docs[0].records[0].text == "Alys Penhallow"


def test_tar_gz_streamed_from_path(tmp_path):
    """A .tar.gz on disk is streamed member by member."""
    p = tmp_path / "b.tgz"
    p.write_bytes(make_tar({"a.csv": CSV, "b.txt": b"Morwenna\n"}, mode="w:gz"))
    docs = {d.source: d for d in extract_path(p, display_name="b.tgz")}
    assert set(docs) == {"b.tgz!a.csv", "b.tgz!b.txt"}


def test_tar_huge_extended_header_refused():
    """A pax header claiming megabytes is refused instead of being read into memory."""
    info = tarfile.TarInfo("x.txt")
    info.size = 5
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    pax.size = 50 * MiB
    data = pax.tobuf(format=tarfile.USTAR_FORMAT) + b"\x00" * 1024 + info.tobuf() + b"hello" + b"\x00" * 1024
    docs = list(extract_bytes(data, "h.tar"))
    assert docs[0].source == "h.tar" and "extended header" in docs[0].rejections[0]


def test_truncated_tar_keeps_earlier_members():
    """A tar cut short keeps the members before the cut and records why the rest is missing."""
    data = make_tar({"a.txt": b"Alys Penhallow\n", "b.txt": b"x" * 100_000})
    docs = list(extract_bytes(data[:50_000], "t.tar"))
    assert docs[0].source == "t.tar!a.txt" and docs[0].records[0].text == "Alys Penhallow"
    assert any(d.rejections for d in docs[1:])


@pytest.mark.parametrize("blob", [b"PK\x03\x04" + b"\xff" * 100, b"\x1f\x8b\x08" + b"\x00" * 50, b"BZh91AY&SY" + b"\x00" * 40, b"\xfd7zXZ\x00" + b"\x01" * 40])
def test_garbage_with_archive_magic_never_raises(blob):
    """Bytes that only look like an archive give rejections, never an exception."""
    docs = list(extract_bytes(blob, "junk"))
    assert docs and all(isinstance(d, Document) for d in docs)
    assert any(d.rejections for d in docs)
