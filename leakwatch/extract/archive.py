"""Archives and compressed streams (ZIP, GZIP/BZIP2/XZ, TAR), nesting, and bounded reads.

Everything is read through small counted chunks: a member's decompressed bytes are
counted as they arrive (headers can lie), charged against one budget shared by
every archive layer of the input (`max_total_bytes`), and compared with the
compressed bytes they came from (`max_ratio`, once past `RATIO_FLOOR`). Nothing is
written to disk. TAR is read as a one-way stream, so a .tar.gz never needs seeking
and is never held in memory; a ZIP needs random access, so a ZIP nested inside
another archive is held in memory (at most `max_document_bytes` of it).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from leakwatch.models import Document

from . import detect, xlsx
from .document import build_document
from .limits import (
    RATIO_FLOOR,
    LimitHit,
    Limits,
    clean_name,
    describe_error,
    doc_cut_reason,
    fmt_bytes,
    fmt_ratio,
)

CHUNK = 1 << 20


class Ctx:
    """Limits and running totals for one top-level input, shared by all its archive layers."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.total = 0  # decompressed bytes, all layers
        self.members = 0  # archive members seen, all layers
        self._noted: set[str] = set()

    @property
    def exhausted(self) -> bool:
        return self.total > self.limits.max_total_bytes

    def charge(self, n: int) -> None:
        self.total += n
        if self.total > self.limits.max_total_bytes:
            raise LimitHit(
                f"archive contents larger than {fmt_bytes(self.limits.max_total_bytes)} decompressed: rest skipped"
            )

    def once(self, key: str) -> bool:
        if key in self._noted:
            return False
        self._noted.add(key)
        return True

    def too_many_members(self) -> bool:
        return self.members >= self.limits.max_members


class Meter:
    """Counts the compressed bytes a decompressor pulls from its source (seek/tell pass through)."""

    def __init__(self, f):
        self.f = f
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n if n is not None and n >= 0 else CHUNK)
        self.count += len(data)
        return data

    def seek(self, *args) -> int:
        return self.f.seek(*args)

    def tell(self) -> int:
        return self.f.tell()

    def seekable(self) -> bool:
        return self.f.seekable()

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> "Meter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Inflated:
    """Decompressed bytes of one member or stream: counted, charged to the budget, ratio-checked.

    The ratio is taken against an upper bound of the compressed bytes consumed: what
    was actually pulled through `meter` since `base`, or the declared compressed size
    if smaller (zipfile never reads past it). Reads are small (`STEP`) and use
    `read1`, so read-ahead barely dilutes the ratio and a stream that breaks midway
    loses at most one step of what it had decompressed.
    """

    STEP = 1 << 14

    def __init__(self, f, ctx: Ctx, meter: Meter, base: int = 0, declared: int | None = None):
        self.f = f
        self._read = getattr(f, "read1", None) or f.read
        self.ctx = ctx
        self.meter = meter
        self.base = base
        self.declared = declared
        self.out = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self.STEP:
            n = self.STEP
        data = self._read(n)
        k = len(data)
        if k:
            self.out += k
            self.ctx.charge(k)
            if self.out > RATIO_FLOOR:
                comp = self.meter.count - self.base
                if self.declared is not None:
                    comp = min(comp, self.declared)
                if self.out > max(comp, 1) * self.ctx.limits.max_ratio:
                    raise LimitHit(
                        f"decompressed more than {fmt_ratio(self.ctx.limits.max_ratio)} its compressed size "
                        "(possible zip bomb): read stopped"
                    )
        return data

    def close(self) -> None:
        self.f.close()


class Counted:
    """Bytes of an archive member that were never compressed (a plain TAR): charged to the budget."""

    def __init__(self, f, ctx: Ctx):
        self.f = f
        self.ctx = ctx

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n if n is not None and n >= 0 else CHUNK)
        if data:
            self.ctx.charge(len(data))
        return data

    def close(self) -> None:
        self.f.close()


class _Prefixed:
    """`head` followed by the rest of `f`: lets a one-way stream be sniffed and then read from byte 0."""

    def __init__(self, head: bytes, f):
        self.head = head
        self.f = f

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                n = len(self.head)
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.f.read(n)

    def close(self) -> None:
        close = getattr(self.f, "close", None)
        if close:
            close()


def _read_upto(f, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def read_capped(f, cap: int) -> tuple[bytes, bool, str | None]:
    """(up to `cap` bytes, whether more followed, a reason if reading stopped early)."""
    chunks, got = [], 0
    truncated, err = False, None
    try:
        while got < cap:
            b = f.read(min(CHUNK, cap - got))
            if not b:
                break
            chunks.append(b)
            got += len(b)
        else:
            truncated = bool(f.read(1))
    except LimitHit as e:
        err = e.reason
    except Exception as e:  # corrupt or truncated compressed data, CRC mismatch, I/O error
        err = f"read error ({describe_error(e)}): rest of document lost"
    return b"".join(chunks), truncated, err


class Input:
    """One thing to extract: bytes in memory, a regular file, or a one-way stream."""

    def __init__(self, *, data: bytes | None = None, path: Path | None = None, stream=None, size: int | None = None):
        self.data = data
        self.path = path
        self.stream = stream
        self.size = size  # known or declared size, if any
        self._head: bytes | None = None

    def head(self) -> bytes:
        if self._head is None:
            if self.data is not None:
                self._head = bytes(self.data[: detect.HEAD])
            elif self.path is not None:
                with open(self.path, "rb") as f:
                    self._head = f.read(detect.HEAD)
            else:
                self._head = _read_upto(self.stream, detect.HEAD)
        return self._head

    def reader(self):
        """A one-way reader from byte 0; the caller closes it. Call once for a stream."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.path is not None:
            return open(self.path, "rb")
        return _Prefixed(self.head(), self.stream)

    def whole(self, cap: int) -> tuple[bytes, bool, str | None]:
        """Up to `cap` bytes from byte 0 (see `read_capped`)."""
        if self.data is not None:
            if len(self.data) <= cap:
                return self.data, False, None
            return bytes(self.data[:cap]), True, None
        if self.path is not None:
            try:
                with open(self.path, "rb") as f:
                    buf = f.read(cap)
                    return buf, bool(f.read(1)), None
            except OSError as e:
                return b"", False, f"read error ({describe_error(e)})"
        return read_capped(self.reader(), cap)


def _too_deep(source: str, kind: str, limits: Limits, size: int | None) -> Document:
    return Document(source, kind, [], size or 0, [f"nesting deeper than {limits.max_depth}: archive not opened"])


def extract_input(inp: Input, source: str, ctx: Ctx, depth: int) -> Iterator[Document]:
    """Documents from `inp`; `depth` is the number of archive layers around it."""
    try:
        head = inp.head()
    except LimitHit as e:
        yield Document(source, "unknown", [], inp.size or 0, [e.reason])
        return
    except Exception as e:
        yield Document(source, "unknown", [], inp.size or 0, [f"read error ({describe_error(e)})"])
        return
    kind = detect.container(head)
    if kind == "zip":
        yield from _zip(inp, source, ctx, depth)
    elif kind in ("gzip", "bzip2", "xz"):
        yield from _compressed(inp, kind, source, ctx, depth)
    elif kind == "tar":
        if depth >= ctx.limits.max_depth:
            yield _too_deep(source, "tar", ctx.limits, inp.size)
            return
        # Members of a TAR read from a decompressor are charged there; a plain TAR's here.
        counted = isinstance(inp.stream, (Inflated, Counted))
        yield from _tar(inp.reader(), source, ctx, depth + 1, charge=not counted)
    else:
        yield _leaf(inp, source, ctx, kind)


def _leaf(inp: Input, source: str, ctx: Ctx, container: str | None) -> Document:
    limits = ctx.limits
    buf, truncated, err = inp.whole(limits.max_document_bytes)
    rejections = []
    if truncated:
        rejections.append(doc_cut_reason(limits))
    if err:
        rejections.append(err)
    size = max(len(buf), inp.size or 0) if (truncated or err) else len(buf)
    return build_document(buf, source, limits, rejections, size, container=container)


# ------------------------------------------------------------------ ZIP


def _directory_check(fobj, limits: Limits) -> str | None:
    """Refuse a central directory too big to parse (zipfile parses all of it up front)."""
    end_rec = getattr(zipfile, "_EndRecData", None)  # private, but stable since Python 2
    if end_rec is None:
        return None
    try:
        rec = end_rec(fobj)
        fobj.seek(0)
    except Exception:
        return None  # let ZipFile report it
    if not rec:
        return None
    cd_size = rec[zipfile._ECD_SIZE]
    if cd_size > limits.max_members * 1024 + (1 << 16):
        return f"archive directory too large ({fmt_bytes(cd_size)} for at most {limits.max_members} members): not opened"
    return None


def _zip(inp: Input, source: str, ctx: Ctx, depth: int) -> Iterator[Document]:
    limits = ctx.limits
    if inp.path is not None:
        try:
            fobj = open(inp.path, "rb")
        except OSError as e:
            yield Document(source, "zip", [], inp.size or 0, [f"read error ({describe_error(e)})"])
            return
        size = inp.size or 0
    elif inp.data is not None:
        fobj, size = io.BytesIO(inp.data), len(inp.data)
    else:
        buf, truncated, err = inp.whole(limits.max_document_bytes)
        if truncated:
            yield Document(
                source, "zip", [], max(len(buf), inp.size or 0),
                [f"zip or XLSX inside an archive larger than {fmt_bytes(limits.max_document_bytes)}: not opened"],
            )
            return
        if err:
            yield Document(source, "zip", [], len(buf), [err])
            return
        fobj, size = io.BytesIO(buf), len(buf)
        del buf
    with Meter(fobj) as counted:
        reason = _directory_check(fobj, limits)
        if reason:
            yield Document(source, "zip", [], size, [reason])
            return
        try:
            zf = zipfile.ZipFile(counted)
            infos = zf.infolist()
        except Exception as e:
            # A truncated XLSX has no central directory to show it is one: go by its first
            # local headers (part names) and its file name.
            head = inp.head()
            if b"xl/" in head or detect.extension(source) in (".xlsx", ".xlsm", ".xltx", ".xltm"):
                yield Document(source, "xlsx", [], size, [f"malformed XLSX: {describe_error(e)}"])
            else:
                yield Document(source, "zip", [], size, [f"malformed zip: {describe_error(e)}"])
            return
        with zf:
            if xlsx.is_xlsx(infos):
                yield xlsx.extract_xlsx(fobj, infos, source, limits, size, ctx.charge)
                return
            if depth >= limits.max_depth:
                yield _too_deep(source, "zip", limits, size)
                return
            yield from _zip_members(zf, counted, infos, source, ctx, depth + 1)


def _members_note(source: str, kind: str, ctx: Ctx) -> Iterator[Document]:
    if ctx.once("members"):
        yield Document(source, kind, [], 0, [f"more than {ctx.limits.max_members} archive members: rest skipped"])


def _zip_members(
    zf: zipfile.ZipFile, meter: Meter, infos, source: str, ctx: Ctx, depth: int
) -> Iterator[Document]:
    limits = ctx.limits
    for zi in infos:
        if zi.filename.endswith("/"):  # a directory (ZipInfo.is_dir fails on an empty name)
            continue
        if ctx.exhausted:  # the reason was recorded where the budget ran out
            return
        if ctx.too_many_members():
            yield from _members_note(source, "zip", ctx)
            return
        ctx.members += 1
        msrc = f"{source}!{clean_name(zi.filename)}"
        if zi.flag_bits & 0x1:
            yield Document(msrc, "unknown", [], zi.file_size, ["encrypted archive member: not scanned"])
            continue
        if zi.file_size > RATIO_FLOOR and zi.file_size > max(zi.compress_size, 1) * limits.max_ratio:
            yield Document(
                msrc, "unknown", [], zi.file_size,
                [f"compression ratio above {fmt_ratio(limits.max_ratio)} (possible zip bomb): not read"],
            )
            continue
        base = meter.count
        try:
            f = zf.open(zi)
        except Exception as e:
            yield Document(msrc, "unknown", [], zi.file_size, [f"archive member unreadable ({describe_error(e)})"])
            continue
        with f:
            member = Input(stream=Inflated(f, ctx, meter, base, zi.compress_size), size=zi.file_size)
            yield from extract_input(member, msrc, ctx, depth)


# ------------------------------------------------------------------ GZIP / BZIP2 / XZ

_SUFFIXES = {".gz": "", ".gzip": "", ".tgz": ".tar", ".bz2": "", ".tbz2": ".tar", ".xz": "", ".txz": ".tar"}


def _gzip_name(head: bytes) -> str | None:
    """The original file name stored in a gzip header (FNAME), if any."""
    if len(head) < 10 or not head[3] & 0x08:
        return None
    p = 10
    if head[3] & 0x04:
        p = 12 + int.from_bytes(head[10:12], "little")
    end = head.find(b"\x00", p, p + 1024)
    if end <= p:
        return None
    name = head[p:end].decode("latin-1").replace("\\", "/").rsplit("/", 1)[-1]
    return name or None


def _inner_name(source: str, head: bytes, kind: str) -> str:
    stored = _gzip_name(head) if kind == "gzip" else None
    if stored:
        return clean_name(stored, 256)
    base = source.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    low = base.lower()
    for suffix, repl in _SUFFIXES.items():
        if low.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + repl
    return base or "data"


def _compressed(inp: Input, kind: str, source: str, ctx: Ctx, depth: int) -> Iterator[Document]:
    """A single compressed stream; a compressed TAR is one layer (`a.tar.gz!x.csv`)."""
    limits = ctx.limits
    if depth >= limits.max_depth:
        yield _too_deep(source, kind, limits, inp.size)
        return
    raw = inp.reader()
    try:
        meter = Meter(raw)
        if kind == "gzip":
            dec = gzip.GzipFile(fileobj=meter, mode="rb")
        elif kind == "bzip2":
            dec = bz2.BZ2File(meter)
        else:
            dec = lzma.LZMAFile(meter)
        inner = Input(stream=Inflated(dec, ctx, meter=meter))
        try:
            head = inner.head()
        except LimitHit as e:
            yield Document(source, kind, [], inp.size or 0, [e.reason])
            return
        except Exception as e:
            yield Document(source, kind, [], inp.size or 0, [f"malformed {kind} stream: {describe_error(e)}"])
            return
        if detect.container(head) == "tar":
            yield from _tar(inner.reader(), source, ctx, depth + 1)
        else:
            yield from extract_input(inner, f"{source}!{_inner_name(source, inp.head(), kind)}", ctx, depth + 1)
    finally:
        raw.close()


# ------------------------------------------------------------------ TAR

_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)


class _SafeTarInfo(tarfile.TarInfo):
    """Refuses what tarfile would otherwise read whole into memory: huge pax/GNU headers, sparse maps."""

    def _proc_member(self, tarfile_):  # the documented hook for TarInfo subclasses
        if self.type in _EXTENDED and self.size > (1 << 20):
            raise LimitHit("tar extended header larger than 1 MiB: rest skipped")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise LimitHit("GNU sparse tar member not supported: rest skipped")
        return super()._proc_member(tarfile_)


def _tar(stream, source: str, ctx: Ctx, depth: int, charge: bool = False) -> Iterator[Document]:
    """Regular-file members of a TAR read as a one-way stream; links, devices, FIFOs and dirs skipped.

    `charge`: count member bytes against the budget (the TAR itself was not decompressed)."""
    try:
        try:
            tf = tarfile.open(fileobj=stream, mode="r|", tarinfo=_SafeTarInfo)
        except LimitHit as e:
            yield Document(source, "tar", [], 0, [e.reason])
            return
        except Exception as e:
            yield Document(source, "tar", [], 0, [f"malformed tar: {describe_error(e)}"])
            return
        while True:
            if ctx.exhausted:
                return
            try:
                m = tf.next()
            except LimitHit as e:
                if not ctx.exhausted or ctx.once("budget"):
                    yield Document(source, "tar", [], 0, [e.reason])
                return
            except Exception as e:
                yield Document(source, "tar", [], 0, [f"tar stream corrupt or truncated ({describe_error(e)}): rest skipped"])
                return
            if m is None:
                return
            if ctx.too_many_members():
                yield from _members_note(source, "tar", ctx)
                return
            ctx.members += 1
            if not m.isreg():
                continue
            f = tf.extractfile(m)
            if f is None:
                continue
            member = Input(stream=Counted(f, ctx) if charge else f, size=m.size)
            yield from extract_input(member, f"{source}!{clean_name(m.name)}", ctx, depth)
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
