"""`leakwatch scan` as a user runs it: folders, archives, JSON lines, exit codes, help."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from synthetic import make_rows, write_roster_csv


@pytest.fixture
def enrolled(lw, tmp_path):
    rows = make_rows(500)
    assert lw("roster", "import", str(write_roster_csv(tmp_path / "roster.csv", rows))).code == 0
    return rows


def staff_csv(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Surname", "Forename", "Rank", "Pay No"])
    for r in rows:
        w.writerow([r.surname, r.forenames, r.rank, r.pay_number])
    return buf.getvalue()


def test_archive_members_are_documents_of_their_own(lw, enrolled, tmp_path):
    """A zip holding a staff list and a note: one JSON line each, sources `zip!member`, exit 1."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with zipfile.ZipFile(inbox / "dump.zip", "w") as z:
        z.writestr("export/staff.csv", staff_csv(enrolled[300:340]))
        z.writestr("readme.txt", "nothing to see here\n")
    res = lw("scan", "--format", "jsonl", str(inbox))
    assert res.code == 1, res.err
    docs = {d["source"]: d for d in map(json.loads, res.out.splitlines())}
    staff_doc = docs[f"{inbox}/dump.zip!export/staff.csv"]
    assert staff_doc["severity"] == "critical"
    assert len(staff_doc["staff"]) >= 38
    assert set(staff_doc) >= {"source", "severity", "score", "staff", "credentials", "reasons"}
    assert docs[f"{inbox}/dump.zip!readme.txt"]["severity"] == "none"


def test_nothing_found_exits_zero(lw, enrolled, tmp_path):
    """A benign file: exit 0, and text output prints nothing below low."""
    f = tmp_path / "notes.txt"
    f.write_text("meeting moved to Thursday\n")
    res = lw("scan", str(f))
    assert res.code == 0 and res.out == ""


def test_min_severity_filters_output_but_not_the_exit_code_rule(lw, enrolled, tmp_path):
    """--min-severity critical hides a high finding and the exit code says nothing was found."""
    r = enrolled[420]
    f = tmp_path / "paste.txt"
    f.write_text(f"{r.forenames} {r.surname} pay {r.pay_number}\n")
    high = lw("scan", "--format", "jsonl", str(f))
    assert high.code == 1 and json.loads(high.out)["severity"] in ("high", "critical")
    if json.loads(high.out)["severity"] == "high":
        crit = lw("scan", "--format", "jsonl", "--min-severity", "critical", str(f))
        assert crit.code == 0 and crit.out == ""


def test_missing_path_is_an_error(lw, enrolled, tmp_path):
    """A path that does not exist: exit 2, named."""
    res = lw("scan", str(tmp_path / "nope.txt"))
    assert res.code == 2 and "nope.txt" in res.err


def test_scan_needs_an_enrolled_roster(lw, tmp_path):
    """Scanning against an empty roster is an error that says how to enrol."""
    (tmp_path / "x.txt").write_text("x")
    res = lw("scan", str(tmp_path / "x.txt"))
    assert res.code == 2 and "roster import" in res.err


@pytest.mark.parametrize("argv", [[], ["key"], ["key", "generate"], ["db"], ["db", "migrate"], ["roster"],
                                  ["roster", "import"], ["roster", "refs"], ["roster", "stats"], ["scan"],
                                  ["demo"]])
def test_every_command_has_complete_help(lw, argv):
    """`--help` works for the program and every subcommand and names the environment."""
    res = lw(*argv, "--help")
    assert res.code == 0
    assert "usage: leakwatch" in res.out
    assert "LEAKWATCH_KEY_FILE" in res.out or argv in (["key"], ["db"], ["roster"])
