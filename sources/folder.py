"""A drop folder: files analysts (or other tools) put there are scanned, then moved aside.

Each poll lists the regular files under `path` (recursively; not symbolic links, not dot
files or dot folders, nothing under `done_path` or the rejected folder), oldest first,
skipping files modified less than `min_age` seconds ago (still being written). Each file
becomes one document named after the file, so extraction opens it as what it is (archives
included). Once the pipeline has committed the documents, `stored` moves each file into
`done_path` (default `path/.done`), keeping its subfolders and never overwriting: a name
already taken gets a suffix (`list.csv` -> `list.1.csv`); the subfolders of `path` are
left in place (a tool may be writing into them). A file rewritten between the poll and
the commit is not moved: the next poll reads it again as a new document. A crash in between means the file
is read again and deduplicated by the pipeline, never lost.

A file over `max_bytes` is moved to `path/.rejected` (same rules) and not read. At most
`max_files` files (default 100) and about 4 x `max_bytes` are read per poll; the rest are
left for the next poll, which the runner starts at once (`more`).

External id: `relative/path:size:mtime_ns:sha256-prefix`, so a file dropped again with
other content is a new document. URL: the file's `file://` URI. No cursor: the folder
itself is the state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import time
from pathlib import Path
from typing import ClassVar

from leakwatch.http import Http
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import number_option, unknown_options

log = logging.getLogger("leakwatch.sources.folder")

_OPTIONS = {"path", "done_path", "min_age", "max_files"}
REJECTED = ".rejected"
BYTES_PER_POLL = 4  # x max_bytes read at most in one poll


class _Found:
    __slots__ = ("path", "rel", "size", "mtime_ns")

    def __init__(self, path: Path, rel: str, size: int, mtime_ns: int):
        self.path, self.rel, self.size, self.mtime_ns = path, rel, size, mtime_ns


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def free_name(target: Path) -> Path:
    """`target`, or `stem.N.ext` for the first N that is not taken."""
    if not target.exists() and not target.is_symlink():
        return target
    stem, suffix = target.stem, target.suffix
    n = 1
    while True:
        candidate = target.with_name(f"{stem}.{n}{suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
        n += 1


def move_aside(src: Path, root: Path, dest_root: Path) -> Path:
    """Move `src` (under `root`) to the same relative place under `dest_root`, never overwriting."""
    target = dest_root / src.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target = free_name(target)
    os.replace(src, target)  # same filesystem as a rule; shutil.move would copy across devices
    return target


class FolderSource:
    kind: ClassVar[str] = "folder"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        raw = opts.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("path: required (the folder to watch)")
        root = Path(raw).expanduser()
        if not root.is_dir():
            raise ValueError(f"path: {raw} is not an existing directory")
        self.root = root.resolve()
        done = opts.get("done_path")
        if done is not None and (not isinstance(done, str) or not done.strip()):
            raise ValueError("done_path: expected a folder path")
        self.done = Path(done).expanduser().resolve() if done else self.root / ".done"
        if self.done == self.root:
            raise ValueError("done_path: must not be the watched folder itself")
        if self.done.exists() and not self.done.is_dir():
            raise ValueError(f"done_path: {done} exists and is not a directory")
        self.rejected = self.root / REJECTED
        self.min_age = float(number_option(opts, "min_age", 2, minimum=0, expected="a number of seconds, 0 or more"))
        self.max_files = number_option(opts, "max_files", 100, minimum=1, integer=True,
                                       expected="an integer, 1 or more")
        # external id -> (path, size, mtime_ns) of files handed out and not yet moved
        self._pending: dict[str, tuple[Path, int, int]] = {}

    # ------------------------------------------------------------------ listing

    def _list(self) -> list[_Found]:
        now_ns = time.time_ns()
        found: list[_Found] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and not _inside(here / d, self.done) and not (here / d).is_symlink())
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                p = here / name
                try:
                    st = os.lstat(p)
                except OSError:
                    continue  # gone meanwhile
                if not stat.S_ISREG(st.st_mode):
                    continue  # symbolic links, FIFOs, sockets, devices
                if (now_ns - st.st_mtime_ns) < self.min_age * 1e9:
                    continue  # still being written
                found.append(_Found(p, p.relative_to(self.root).as_posix(), st.st_size, st.st_mtime_ns))
        found.sort(key=lambda f: (f.mtime_ns, f.rel))
        return found

    def _read(self, f: _Found) -> bytes | None:
        """The file's content, or None when it went over the cap (moved aside) or away."""
        cap = self.settings.max_bytes
        if f.size > cap:
            self._reject(f, f"{f.size} bytes, over max_bytes ({cap})")
            return None
        try:  # no following a link, no blocking on a FIFO swapped in since the listing
            fd = os.open(f.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = fh.read(cap + 1)
        if len(data) > cap:
            self._reject(f, f"over max_bytes ({cap}) when read")
            return None
        return data

    def _reject(self, f: _Found, why: str) -> None:
        try:
            target = move_aside(f.path, self.root, self.rejected)
        except OSError as exc:
            log.warning("folder_reject_failed", extra={"fields": {"source": self.settings.name, "file": f.rel,
                                                                  "error": exc.strerror or type(exc).__name__}})
            return
        log.warning("folder_file_rejected", extra={"fields": {"source": self.settings.name, "file": f.rel,
                                                              "moved_to": str(target), "reason": why}})

    def _poll(self) -> Poll:
        found = self._list()
        items: list[Item] = []
        budget = BYTES_PER_POLL * self.settings.max_bytes
        more = False
        for f in found:
            if len(items) >= self.max_files or (items and f.size > budget):
                more = True
                break
            data = self._read(f)
            if data is None:
                continue
            budget -= len(data)
            ext_id = f"{f.rel}:{len(data)}:{f.mtime_ns}:{hashlib.sha256(data).hexdigest()[:16]}"
            self._pending[ext_id] = (f.path, f.size, f.mtime_ns)
            items.append(Item(external_id=ext_id, body=data, name=f.path.name, url=f.path.as_uri()))
        return Poll(items, None, more=more)

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        return await asyncio.to_thread(self._poll)

    # ------------------------------------------------------------------ after commit

    def _stored(self, items: list[Item]) -> None:
        for item in items:
            entry = self._pending.pop(item.external_id, None)
            if entry is None:
                continue
            path, size, mtime_ns = entry
            try:
                st = os.lstat(path)
            except OSError:
                continue  # moved or deleted meanwhile
            if st.st_size != size or st.st_mtime_ns != mtime_ns:
                continue  # rewritten since it was read: the next poll reads the new content
            try:
                move_aside(path, self.root, self.done)
            except OSError as exc:
                log.warning("folder_move_failed", extra={"fields": {"source": self.settings.name,
                                                                    "file": path.relative_to(self.root).as_posix(),
                                                                    "error": exc.strerror or type(exc).__name__}})
                continue

    async def stored(self, items: list[Item]) -> None:
        await asyncio.to_thread(self._stored, items)
