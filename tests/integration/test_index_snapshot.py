"""The sorted hashed index kept on disk between runs (leakwatch/snapshot.py)."""

from __future__ import annotations

import json
import stat

from synthetic import make_rows, write_roster_csv


def _loaded(run) -> dict:
    """The roster_loaded log event of a run."""
    for line in run.err.splitlines():
        if '"roster_loaded"' in line:
            return json.loads(line)
    raise AssertionError(f"no roster_loaded event in: {run.err[-2000:]}")


def _leak(tmp_path, rows, name="leak.csv"):
    f = tmp_path / name
    f.write_text("Surname,Forename,Rank,Pay No\n" + "".join(f"{r.surname},{r.forenames},{r.rank},{r.pay_number}\n"
                                                          for r in rows))
    return f


def _findings(run) -> list[dict]:
    return [json.loads(line) for line in run.out.splitlines()]


def test_second_scan_maps_the_snapshot_and_finds_the_same(lw, tmp_path):
    rows = make_rows(400)
    assert lw("roster", "import", str(write_roster_csv(tmp_path / "roster.csv", rows))).code == 0
    leak = _leak(tmp_path, rows[100:140])
    first = lw("scan", "--format", "jsonl", str(leak))
    second = lw("scan", "--format", "jsonl", str(leak))
    assert first.code == second.code == 1, first.err + second.err
    assert _loaded(first)["snapshot"] is False and _loaded(second)["snapshot"] is True
    assert _findings(first) == _findings(second)
    assert len(_findings(second)[0]["staff"]) == 40
    folder = tmp_path / "data" / "index"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (snap,) = [p for p in folder.iterdir()]
    assert sorted(p.name for p in snap.iterdir()) == ["fields.npy", "keys.npy", "kinds.npy", "staff.npy", "tokens.npy"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in snap.iterdir())


def test_a_new_import_is_never_served_from_an_old_snapshot(lw, tmp_path):
    rows = make_rows(400)
    roster = write_roster_csv(tmp_path / "roster.csv", rows[:300])
    assert lw("roster", "import", str(roster)).code == 0
    assert lw("scan", str(_leak(tmp_path, rows[:5], "warm.csv"))).code == 1  # writes the snapshot
    old = {p.name for p in (tmp_path / "data" / "index").iterdir()}
    # 100 more staff: a leak of them is found at once, and the old snapshot is replaced.
    assert lw("roster", "import", str(write_roster_csv(tmp_path / "roster2.csv", rows))).code == 0
    res = lw("scan", "--format", "jsonl", str(_leak(tmp_path, rows[300:340])))
    assert res.code == 1, res.err
    assert _loaded(res)["snapshot"] is False
    assert len(_findings(res)[0]["staff"]) == 40
    new = {p.name for p in (tmp_path / "data" / "index").iterdir()}
    assert len(new) == 1 and new.isdisjoint(old)


def test_a_damaged_snapshot_is_rebuilt(lw, tmp_path):
    rows = make_rows(400)
    assert lw("roster", "import", str(write_roster_csv(tmp_path / "roster.csv", rows))).code == 0
    leak = _leak(tmp_path, rows[:40])
    assert lw("scan", str(leak)).code == 1
    (snap,) = (tmp_path / "data" / "index").iterdir()
    (snap / "keys.npy").write_bytes(b"\x93NUMPY garbage")
    (snap / "staff.npy").unlink()
    res = lw("scan", "--format", "jsonl", str(leak))
    assert res.code == 1, res.err
    assert _loaded(res)["snapshot"] is False
    assert len(_findings(res)[0]["staff"]) == 40
    assert _loaded(lw("scan", str(leak)))["snapshot"] is True


def test_the_cache_can_be_turned_off(lw, tmp_path):
    rows = make_rows(300)
    assert lw("roster", "import", str(write_roster_csv(tmp_path / "roster.csv", rows))).code == 0
    off = {"LEAKWATCH_MATCH_INDEX_CACHE": "false"}
    res = lw("scan", str(_leak(tmp_path, rows[:40])), env=off)
    assert res.code == 1, res.err
    assert _loaded(res)["snapshot"] is False
    assert not (tmp_path / "data" / "index").exists()
