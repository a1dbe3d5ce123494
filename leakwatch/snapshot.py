"""The sorted hashed index on local disk, so a start-up need not sort it again.

Building the in-memory index means fetching every staff member's packed keys and
sorting them (about 4 s for 250,000 staff). The sorted arrays are written once to
`<data_dir>/index/<token>/` and later memory-mapped: the operating system pages them
in on demand and every process on the machine (scan workers, match workers) shares
one copy in the page cache.

The token is a SHA-256 over the key's fingerprint, the entry scheme and, in load
order, each loaded staff member's ref and entry digest, plus the name-token keys: any
import, deactivation or leaver passing out of the watch period changes it, and a
snapshot is used only for exactly the roster the database would give. What is on
disk is what the database holds (keyed hashes, staff positions, field and kind
tags), never plaintext; the folder is 0700 and the files 0600 (docs/threat-model.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from leakwatch.index import ENTRY_SCHEME

ARRAYS = ("keys", "staff", "fields", "kinds", "tokens")
FORMAT = 1  # bump when the arrays' layout changes: older snapshots are then never matched
STALE_TMP_SECONDS = 3600  # a half-written snapshot folder this old belongs to a writer that died


def roster_token(fingerprint: str, refs: list[str], digests: list[bytes], tokens: list[int]) -> str:
    h = hashlib.sha256()
    h.update(f"leakwatch-index/{FORMAT}/{ENTRY_SCHEME}/{fingerprint}/{len(refs)}\n".encode())
    for ref, digest in zip(refs, digests):
        h.update(ref.encode())
        h.update(b"\0")
        h.update(bytes(digest))
    h.update(np.sort(np.asarray(tokens, dtype=np.int64)).tobytes())
    return h.hexdigest()[:32]


def load(folder: Path, token: str) -> dict[str, np.ndarray] | None:
    """The arrays of the snapshot for `token`, memory-mapped read-only; None if there is none usable."""
    where = folder / token
    try:
        # Plain ndarray views of the maps: a np.memmap's slicing runs Python code on every look-up.
        arrays = {name: np.load(where / f"{name}.npy", mmap_mode="r", allow_pickle=False).view(np.ndarray)
                  for name in ARRAYS}
    except (OSError, ValueError):
        return None
    n = len(arrays["keys"])
    if any(len(arrays[name]) != n for name in ("staff", "fields", "kinds")):
        return None
    return arrays


def save(folder: Path, token: str, index) -> Path | None:
    """Write the index's sorted arrays as the snapshot for `token`, replacing older ones.

    Atomic (written to a temporary folder, then renamed); a failure (read-only or full
    disk) is returned as None and the caller carries on without a snapshot.
    """
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        arrays = {"keys": index.keys, "staff": index.staff, "fields": index.fields, "kinds": index.kinds,
                  "tokens": np.fromiter(index.name_tokens, dtype=np.int64, count=len(index.name_tokens))}
        for name, arr in arrays.items():
            path = tmp / f"{name}.npy"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
        final = folder / token
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return None
    now = time.time()
    for other in folder.iterdir():  # one roster, one snapshot
        if other.name == token:
            continue
        try:  # another process's snapshot being written is left alone; a crashed writer's is not, after a while
            if other.name.startswith(".tmp-") and now - other.stat().st_mtime < STALE_TMP_SECONDS:
                continue
        except OSError:
            continue
        shutil.rmtree(other, ignore_errors=True)
    return final
