"""Scanning many files: biggest first to the workers, results in input order."""

from __future__ import annotations

from leakwatch import scan


def test_batches_put_big_files_first_and_group_small_ones(tmp_path, monkeypatch):
    """Each big file is its own task, handed out first; small files share tasks."""
    monkeypatch.setattr(scan, "BATCH_BYTES", 1000)
    monkeypatch.setattr(scan, "BATCH_FILES", 3)
    sizes = [10, 5000, 20, 30, 3000, 40, 50]
    items = []
    for i, n in enumerate(sizes):
        p = tmp_path / f"f{i}.txt"
        p.write_bytes(b"x" * n)
        items.append((str(p), p.name))
    items.append((str(tmp_path / "missing.txt"), "missing.txt"))
    batches = scan._batches(items)
    assert batches[0] == [1] and batches[1] == [4]
    assert sorted(i for b in batches for i in b) == list(range(len(items)))
    assert all(len(b) <= 3 for b in batches)


def test_results_come_out_in_input_order_with_workers(ctx, tmp_path):
    """Two workers, files of very different sizes: findings are printed in the order given."""
    files = []
    for i, n in enumerate([100, 200_000, 50, 80_000, 10]):
        p = tmp_path / f"doc{i}.txt"
        p.write_text(("hello world 123\n" * (n // 16 + 1))[:n])
        files.append((p, p.name))
    scanner = scan.Scanner(ctx)
    from leakwatch.extract import Limits

    got = [r.path for r in scan.scan_files(files, scanner, Limits(), workers=2)]
    assert got == [d for _, d in files]


def test_scanning_processes_run_the_collector_at_matching_thresholds(ctx, tmp_path):
    """A scan sets the collector's thresholds for matching before it forks its workers."""
    import gc

    from leakwatch.extract import Limits
    from leakwatch.pipeline.work import GC_THRESHOLDS

    files = []
    for i in range(2):
        p = tmp_path / f"doc{i}.txt"
        p.write_text("hello world 123\n")
        files.append((p, p.name))
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        results = list(scan.scan_files(files, scan.Scanner(ctx), Limits(), workers=2))
        assert [r.error for r in results] == [None, None]
        assert gc.get_threshold() == GC_THRESHOLDS != (700, 10, 10)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
