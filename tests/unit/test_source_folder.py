"""The drop-folder source: what it reads, what it skips, where files go once stored."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from leakwatch.errors import ConfigError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.folder import FolderSource

OLD = time.time() - 3600


def drop(root: Path, rel: str, data: bytes, mtime: float | None = OLD) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if mtime is not None:
        os.utime(p, (mtime, mtime))
    return p


def source(root: Path, max_bytes: int = 4096, **options) -> FolderSource:
    return FolderSource(SourceSettings(name="drop", kind="folder", max_bytes=max_bytes,
                                       options={"path": str(root), **options}))


def rels(poll) -> list[str]:
    return sorted(i.external_id.split(":")[0] for i in poll.items)


async def test_reads_regular_files_recursively_with_ids_names_and_urls(tmp_path):
    a = drop(tmp_path, "a.csv", b"surname\nVell\n", OLD - 10)
    drop(tmp_path, "sub/deeper/b.txt", b"hello\n")
    poll = await source(tmp_path).poll(None, None)
    assert [i.name for i in poll.items] == ["a.csv", "b.txt"]  # oldest first
    item = poll.items[0]
    st = a.stat()
    assert item.external_id == f"a.csv:{st.st_size}:{st.st_mtime_ns}:{hashlib.sha256(a.read_bytes()).hexdigest()[:16]}"
    assert item.body == b"surname\nVell\n"
    assert item.url == a.resolve().as_uri() and item.url.startswith("file:///")
    assert rels(poll) == ["a.csv", "sub/deeper/b.txt"]
    assert poll.cursor is None and poll.more is False


async def test_skips_dotfiles_symlinks_done_and_files_still_being_written(tmp_path):
    drop(tmp_path, "keep.txt", b"x")
    drop(tmp_path, ".hidden.txt", b"x")
    drop(tmp_path, ".git/config", b"x")
    drop(tmp_path, ".done/old.txt", b"x")
    drop(tmp_path, "fresh.txt", b"x", mtime=None)  # just written: younger than min_age
    outside = drop(tmp_path.parent / f"{tmp_path.name}-outside", "secret.txt", b"not for the watcher")
    (tmp_path / "link.txt").symlink_to(outside)
    (tmp_path / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    os.mkfifo(tmp_path / "pipe")
    for name in ("link.txt", "linkdir", "pipe"):  # old enough: skipped for what they are, not their age
        os.utime(tmp_path / name, (OLD, OLD), follow_symlinks=False)
    poll = await source(tmp_path).poll(None, None)
    assert rels(poll) == ["keep.txt"]


async def test_min_age_zero_takes_fresh_files_and_an_aged_file_is_taken_later(tmp_path):
    f = drop(tmp_path, "fresh.txt", b"x", mtime=None)
    assert (await source(tmp_path).poll(None, None)).items == []
    assert rels(await source(tmp_path, min_age=0).poll(None, None)) == ["fresh.txt"]
    os.utime(f, (OLD, OLD))
    assert rels(await source(tmp_path).poll(None, None)) == ["fresh.txt"]


async def test_file_over_max_bytes_is_moved_to_rejected_and_not_read(tmp_path):
    drop(tmp_path, "big/huge.txt", b"x" * 5000)
    drop(tmp_path, "small.txt", b"ok")
    poll = await source(tmp_path, max_bytes=4096).poll(None, None)
    assert rels(poll) == ["small.txt"]
    assert not (tmp_path / "big/huge.txt").exists()
    assert (tmp_path / ".rejected/big/huge.txt").read_bytes() == b"x" * 5000
    assert rels(await source(tmp_path).poll(None, None)) == ["small.txt"]  # not seen again


async def test_stored_moves_files_to_done_keeping_folders_and_never_overwriting(tmp_path):
    drop(tmp_path, "sub/list.csv", b"first")
    drop(tmp_path, ".done/sub/list.csv", b"an earlier drop")
    src = source(tmp_path)
    poll = await src.poll(None, None)
    await src.stored(poll.items)
    assert not (tmp_path / "sub/list.csv").exists()
    assert (tmp_path / ".done/sub/list.csv").read_bytes() == b"an earlier drop"
    assert (tmp_path / ".done/sub/list.1.csv").read_bytes() == b"first"
    assert (tmp_path / "sub").is_dir()  # the watched subfolder stays
    assert (await src.poll(None, None)).items == []


async def test_file_rewritten_before_commit_is_not_moved_and_is_read_again(tmp_path):
    f = drop(tmp_path, "list.csv", b"v1")
    src = source(tmp_path)
    poll = await src.poll(None, None)
    f.write_bytes(b"version 2")
    os.utime(f, (OLD + 5, OLD + 5))
    await src.stored(poll.items)
    assert f.exists()
    again = await src.poll(None, None)
    assert [i.body for i in again.items] == [b"version 2"]
    assert again.items[0].external_id != poll.items[0].external_id


async def test_only_items_of_this_source_are_moved(tmp_path):
    drop(tmp_path, "a.txt", b"a")
    src = source(tmp_path)
    poll = await src.poll(None, None)
    other = type(poll.items[0])(external_id="elsewhere:1:2:3", body=b"", name="x")
    await src.stored([other])
    assert (tmp_path / "a.txt").exists()


async def test_custom_done_path_outside_the_folder(tmp_path):
    watched, done = tmp_path / "in", tmp_path / "archive"
    drop(watched, "a.txt", b"a")
    src = source(watched, done_path=str(done))
    await src.stored((await src.poll(None, None)).items)
    assert (done / "a.txt").read_bytes() == b"a" and not (watched / "a.txt").exists()


async def test_done_path_inside_the_folder_is_not_read(tmp_path):
    drop(tmp_path, "processed/a.txt", b"a")
    drop(tmp_path, "b.txt", b"b")
    poll = await source(tmp_path, done_path=str(tmp_path / "processed")).poll(None, None)
    assert rels(poll) == ["b.txt"]


async def test_max_files_leaves_the_rest_for_the_next_poll(tmp_path):
    for n in range(5):
        drop(tmp_path, f"f{n}.txt", b"x", OLD + n)
    src = source(tmp_path, max_files=2)
    first = await src.poll(None, None)
    assert rels(first) == ["f0.txt", "f1.txt"] and first.more is True
    await src.stored(first.items)
    second = await src.poll(None, None)
    assert rels(second) == ["f2.txt", "f3.txt"] and second.more is True


@pytest.mark.parametrize("options, option", [
    ({}, "path"),
    ({"path": "/nonexistent/leakwatch-drop"}, "path"),
    ({"path": "FILE"}, "path"),
    ({"path": "DIR", "min_age": -1}, "min_age"),
    ({"path": "DIR", "max_files": 0}, "max_files"),
    ({"path": "DIR", "done_path": "FILE"}, "done_path"),
    ({"path": "DIR", "recursive": False}, "recursive"),
])
def test_bad_options_are_config_errors_naming_source_and_option(tmp_path, options, option):
    a_file = tmp_path / "not-a-dir.txt"
    a_file.write_text("x")
    subst = {"FILE": str(a_file), "DIR": str(tmp_path)}
    raw = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    with pytest.raises(ConfigError) as err:
        load_sources([{"kind": "folder", "name": "drops", **raw}])
    assert "drops" in str(err.value) and f"{option}:" in str(err.value)
