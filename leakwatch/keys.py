"""The roster key: generation, loading, and the keyed hashes everything else is built from.

Every value derived from the roster goes through `Hasher`: keyed BLAKE2b with a
32-byte secret that lives in a file, never in the database. Whoever holds the
database without the key file cannot test a guess; whoever holds both can (see
docs/threat-model.md), so key custody is the real protection.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
import struct
from pathlib import Path

from leakwatch.errors import LeakwatchError

KEY_BYTES = 32
_MASK64 = (1 << 64) - 1


class KeyError_(LeakwatchError):
    """The key file is missing, unreadable, of the wrong size or too widely readable."""


def generate_key_file(path: str | os.PathLike) -> Path:
    """Write 32 random bytes to a new file with mode 0600; refuse to overwrite."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyError_(f"{path}: exists; refusing to overwrite a key (delete it first if you mean to)") from None
    except OSError as exc:
        raise KeyError_(f"{path}: cannot create key file: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))
    os.chmod(path, 0o600)
    return path


def load_key(path: str | os.PathLike) -> bytes:
    """Read a key file, checking its size and that group and others cannot read it."""
    path = Path(path)
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyError_(f"{path}: key file not found (create one with `leakwatch key generate {path}`)") from None
    except OSError as exc:
        raise KeyError_(f"{path}: cannot read key file: {exc.strerror}") from None
    if len(data) != KEY_BYTES:
        raise KeyError_(f"{path}: key file holds {len(data)} bytes, expected {KEY_BYTES}")
    # Group read is allowed: Kubernetes mounts secrets 0440 under an fsGroup.
    if st.st_mode & (stat.S_IRWXO | stat.S_IWGRP | stat.S_IXGRP):
        raise KeyError_(f"{path}: key file is accessible to others or writable by group "
                        f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 (or 440) it")
    return data


def _person(label: str) -> bytes:
    raw = label.encode()
    if len(raw) > 16:
        raise ValueError(f"hash label too long: {label}")
    return raw.ljust(16, b"\0")


def to_int64(digest: bytes) -> int:
    """8 bytes as a signed 64-bit integer (Postgres bigint, numpy int64)."""
    return int.from_bytes(digest[:8], "little", signed=True)


class Hasher:
    """Keyed hashes of normalised roster values and of candidate tokens from documents.

    `token()` is memoised: a document repeats its words, and a scan repeats documents'
    vocabularies, so most tokens are hashed once. The cache holds document tokens
    (not roster values) and is bounded.
    """

    CACHE_LIMIT = 2_000_000  # entries; about 250 MB at worst, dropped whole when reached

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise ValueError(f"key must be {KEY_BYTES} bytes")
        self._key = key
        self._cache: dict[tuple[str, str], int] = {}
        # Keyed states per label, copied for each hash: the key block is compressed once.
        self._bases: dict[str, "hashlib._Hash"] = {}
        self.variant_cache: dict[tuple[str, str], tuple[int, list[tuple[int, int]]]] = {}
        self.fingerprint = hashlib.blake2b(key, digest_size=16, person=_person("lw-fingerprint")).hexdigest()

    def token(self, label: str, value: str) -> int:
        """Keyed 64-bit hash of one normalised value under a label ("name", "num", ...)."""
        k = (label, value)
        h = self._cache.get(k)
        if h is None:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            h = self.uncached(label, value)
            self._cache[k] = h
        return h

    def _base(self, label: str):
        base = self._bases[label] = hashlib.blake2b(key=self._key, digest_size=8, person=_person(label))
        return base

    @property
    def key(self) -> bytes:
        """The key itself, for handing to worker processes (never logged, never stored)."""
        return self._key

    def uncached(self, label: str, value: str) -> int:
        """`token` without the memo: for values that never repeat (a roster's pay numbers)."""
        h = (self._bases.get(label) or self._base(label)).copy()
        h.update(value.encode())
        return int.from_bytes(h.digest(), "little", signed=True)

    def tokens(self, label: str, values: list[str]) -> list[int]:
        """`uncached` for many values at once (a document's distinct numbers)."""
        copy = (self._bases.get(label) or self._base(label)).copy
        buf = bytearray()
        for v in values:
            h = copy()
            h.update(v.encode())
            buf += h.digest()
        return list(struct.unpack(f"<{len(values)}q", buf))

    def pair(self, label: str, first: int, second: int) -> int:
        """Keyed 64-bit hash of two keyed hashes: pairs such as (forename, surname).

        Keyed too, not only its inputs: the unlinked name-token set holds the inputs,
        and an unkeyed pair hash would let anyone with the database join each staff
        row to its forename and surname tokens and count them.
        """
        h = (self._bases.get(label) or self._base(label)).copy()
        h.update(_PAIR.pack(first, second))
        return int.from_bytes(h.digest(), "little", signed=True)

    def pairs(self, label: str, values: list[tuple[int, int]]) -> list[int]:
        """`pair` for many pairs at once (a document's name pairs)."""
        copy = (self._bases.get(label) or self._base(label)).copy
        pack = _PAIR.pack
        buf = bytearray()
        for first, second in values:
            h = copy()
            h.update(pack(first, second))
            buf += h.digest()
        return list(struct.unpack(f"<{len(values)}q", buf))

    def ref(self, staff_id: str) -> str:
        """The stable opaque reference for an HR staff id: `s-` and 16 base32 characters."""
        base = self._bases.get("lw-ref")
        if base is None:
            base = self._bases["lw-ref"] = hashlib.blake2b(key=self._key, digest_size=10, person=_person("lw-ref"))
        h = base.copy()
        h.update(staff_id.strip().encode())
        return "s-" + base64.b32encode(h.digest()).decode().lower()


_PAIR = struct.Struct("<qq")


# Fixed, public per-position constants: a substitution entry is the deletion hash
# with its position mixed in, so a hit means Levenshtein distance <= 1, not <= 2.
_POSITION = [to_int64(hashlib.blake2b(bytes([i]), digest_size=8, person=_person("lw-pos")).digest()) for i in range(64)]


def with_position(h: int, pos: int) -> int:
    return h ^ _POSITION[pos % 64]
