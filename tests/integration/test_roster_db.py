"""Enrolment against a real Postgres: one transaction, idempotent, leavers, keys, schema versions."""

from __future__ import annotations

import asyncio

import asyncpg

from synthetic import make_rows, write_roster_csv


def fetch(dsn, sql, *args):
    async def go():
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


def test_import_enrols_every_row_and_reimport_changes_nothing(lw, db_dsn, tmp_path):
    """A second import of the same file reports every row unchanged and rewrites nothing."""
    path = write_roster_csv(tmp_path / "roster.csv", make_rows(300))
    first = lw("roster", "import", str(path))
    assert first.code == 0, first.err
    assert first.out.startswith("enrolled 300, updated 0, unchanged 0")
    before = fetch(db_dsn, "SELECT ref, digest, entry_keys, entry_tags, updated_at FROM staff ORDER BY ref")
    second = lw("roster", "import", str(path))
    assert second.code == 0 and second.out.startswith("enrolled 0, updated 0, unchanged 300")
    after = fetch(db_dsn, "SELECT ref, digest, entry_keys, entry_tags, updated_at FROM staff ORDER BY ref")
    assert before == after
    assert fetch(db_dsn, "SELECT count(*) AS n FROM staff")[0]["n"] == 300


def test_changed_rows_are_updated(lw, db_dsn, tmp_path):
    """A staff member whose pay number changed is reported updated and re-hashed."""
    rows = make_rows(50)
    path = write_roster_csv(tmp_path / "roster.csv", rows)
    assert lw("roster", "import", str(path)).code == 0
    rows[7].pay_number = "123123"
    rows[8].rank = "Supt"
    write_roster_csv(path, rows)
    res = lw("roster", "import", str(path))
    assert res.out.startswith("enrolled 0, updated 2, unchanged 48"), res.out


def test_replace_marks_missing_staff_as_leavers_still_watched(lw, db_dsn, tmp_path):
    """--replace deactivates staff missing from the file; they stay in the index as leavers."""
    rows = make_rows(40)
    path = write_roster_csv(tmp_path / "roster.csv", rows)
    assert lw("roster", "import", str(path)).code == 0
    write_roster_csv(path, rows[:30])
    res = lw("roster", "import", "--replace", str(path))
    assert res.code == 0 and "deactivated 10" in res.out
    gone = fetch(db_dsn, "SELECT count(*) AS n FROM staff WHERE NOT active AND left_at IS NOT NULL")
    assert gone[0]["n"] == 10
    watched = fetch(db_dsn, "SELECT count(*) AS n FROM staff WHERE active OR left_at > now() - interval '365 days'")
    assert watched[0]["n"] == 40


def test_import_without_replace_keeps_missing_staff_active(lw, db_dsn, tmp_path):
    """Without --replace an import only adds and updates."""
    rows = make_rows(20)
    path = write_roster_csv(tmp_path / "roster.csv", rows)
    lw("roster", "import", str(path))
    write_roster_csv(path, rows[:5])
    assert "deactivated 0" in lw("roster", "import", str(path)).out
    assert fetch(db_dsn, "SELECT count(*) AS n FROM staff WHERE active")[0]["n"] == 20


def test_bad_rows_refuse_the_whole_file(lw, db_dsn, tmp_path):
    """A malformed row names line and field, exits 2, and nothing is enrolled."""
    rows = make_rows(10)
    rows[3].email = "not-an-address"
    rows[6].surname = ""
    path = write_roster_csv(tmp_path / "roster.csv", rows)
    res = lw("roster", "import", str(path))
    assert res.code == 2
    assert "line 5, field email" in res.err and "line 8, field surname" in res.err
    assert "not-an-address" not in res.err
    assert fetch(db_dsn, "SELECT count(*) AS n FROM staff")[0]["n"] == 0


def test_duplicate_staff_id_and_pay_number_are_refused(lw, db_dsn, tmp_path):
    """Duplicate staff ids and pay numbers are errors naming the first line."""
    rows = make_rows(10)
    rows[5].staff_id = rows[1].staff_id
    rows[7].pay_number = rows[2].pay_number
    res = lw("roster", "import", str(write_roster_csv(tmp_path / "r.csv", rows)))
    assert res.code == 2
    assert "line 7, field staff_id: duplicate staff_id (first seen on line 3)" in res.err
    assert "line 9, field pay_number" in res.err and "line 4" in res.err


def test_skip_invalid_enrols_the_rest(lw, db_dsn, tmp_path):
    """--skip-invalid enrols valid rows and reports the rejected count."""
    rows = make_rows(10)
    rows[3].email = "broken@"
    res = lw("roster", "import", "--skip-invalid", str(write_roster_csv(tmp_path / "r.csv", rows)))
    assert res.code == 0, res.err
    assert "enrolled 9" in res.out and "rejected 1" in res.out


def test_a_different_key_is_refused(lw, db_dsn, tmp_path):
    """Commands refuse a key other than the one the database was enrolled under."""
    from leakwatch.keys import generate_key_file

    path = write_roster_csv(tmp_path / "r.csv", make_rows(5))
    assert lw("roster", "import", str(path)).code == 0
    other = generate_key_file(tmp_path / "other.key")
    res = lw("roster", "import", str(path), env={"LEAKWATCH_KEY_FILE": str(other)})
    assert res.code == 2 and "enrolled under key" in res.err
    scan = lw("scan", str(path), env={"LEAKWATCH_KEY_FILE": str(other)})
    assert scan.code == 2 and "enrolled under key" in scan.err


def test_key_file_readable_by_others_is_refused(lw, key_file, tmp_path):
    """A key file others can read is refused, naming the file."""
    key_file.chmod(0o604)
    res = lw("roster", "stats")
    assert res.code == 0  # stats need no key
    res = lw("roster", "refs", str(write_roster_csv(tmp_path / "r.csv", make_rows(2))))
    assert res.code == 2 and "accessible to others" in res.err


def test_refs_are_computed_locally_and_match_enrolment(lw, db_dsn, tmp_path):
    """`roster refs` prints staff_id,ref without the database; refs equal those enrolled."""
    path = write_roster_csv(tmp_path / "r.csv", make_rows(25))
    lw("roster", "import", str(path))
    res = lw("roster", "refs", str(path), env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert res.code == 0
    lines = res.out.strip().splitlines()
    assert lines[0] == "staff_id,ref" and len(lines) == 26
    refs = {line.split(",")[1] for line in lines[1:]}
    assert refs == {r["ref"] for r in fetch(db_dsn, "SELECT ref FROM staff")}


def test_migrations_applied_twice_change_nothing(lw, empty_db_dsn):
    """`db migrate` twice: the second applies nothing and the schema is identical."""
    env = {"DATABASE_URL": empty_db_dsn}
    first = lw("db", "migrate", env=env)
    assert first.code == 0 and "applied migrations 001" in first.out
    schema = "SELECT table_name, column_name, data_type FROM information_schema.columns " \
             "WHERE table_schema = 'public' ORDER BY 1, 2"
    before = fetch(empty_db_dsn, schema)
    second = lw("db", "migrate", env=env)
    assert second.code == 0 and "nothing to do" in second.out
    assert fetch(empty_db_dsn, schema) == before


def test_schema_behind_is_refused(lw, empty_db_dsn):
    """Against an unmigrated database, commands exit 2 and say to run `db migrate`."""
    res = lw("roster", "stats", env={"DATABASE_URL": empty_db_dsn})
    assert res.code == 2 and "leakwatch db migrate" in res.err


def test_schema_ahead_is_refused(lw, db_dsn):
    """A schema newer than the code is refused with an upgrade hint."""
    fetch(db_dsn, "INSERT INTO schema_version (version, name) VALUES (99, '099_future.sql')")
    res = lw("roster", "stats")
    assert res.code == 2 and "newer than this leakwatch" in res.err


def test_unreachable_database_is_a_clear_error(lw):
    """A database that does not answer names DATABASE_URL, exit 2, no traceback."""
    res = lw("roster", "stats", env={"DATABASE_URL": "postgresql://x@127.0.0.1:1/none"})
    assert res.code == 2 and "DATABASE_URL" in res.err and "Traceback" not in res.err


def test_leavers_are_still_found_and_flagged(lw, db_dsn, tmp_path):
    """A leaver's data in a leak is still found, and the finding says they have left."""
    rows = make_rows(40)
    path = write_roster_csv(tmp_path / "roster.csv", rows)
    lw("roster", "import", str(path))
    write_roster_csv(path, rows[:30])
    lw("roster", "import", "--replace", str(path))
    r = rows[35]
    leak = tmp_path / "paste.txt"
    leak.write_text(f"{r.forenames} {r.surname} pay no {r.pay_number}\n")
    res = lw("scan", "--format", "jsonl", str(leak))
    assert res.code == 1
    import json

    finding = json.loads(res.out)
    assert finding["severity"] in ("high", "critical")
    assert any("leavers" in reason for reason in finding["reasons"])


def test_a_roster_enrolled_under_another_entry_scheme_is_refused(lw, db_dsn, tmp_path):
    """After an upgrade that changes how entries are derived, scans refuse until the roster is re-imported."""
    path = write_roster_csv(tmp_path / "r.csv", make_rows(5))
    assert lw("roster", "import", str(path)).code == 0
    fetch(db_dsn, "UPDATE meta SET value = '1' WHERE key = 'entry_scheme'")
    res = lw("scan", str(path))
    assert res.code == 2 and "roster import" in res.err and "scheme 1" in res.err
    assert lw("roster", "import", str(path)).code == 0
    assert lw("scan", str(path)).code in (0, 1)


def test_identifier_lengths_are_recorded_and_only_grow(lw, db_dsn, tmp_path):
    """Import records the digit counts of the numbers enrolled (not the numbers); a later import
    adds its own; a scan still finds a staff number with them in place."""
    rows = make_rows(20)
    path = write_roster_csv(tmp_path / "roster.csv", rows)
    assert lw("roster", "import", str(path)).code == 0
    lengths = "SELECT value FROM meta WHERE key = 'identifier_lengths'"
    assert fetch(db_dsn, lengths)[0]["value"] == "6,7"
    rows[3].pay_number = "12345678"
    write_roster_csv(path, rows[:5])
    assert lw("roster", "import", "--replace", str(path)).code == 0
    assert fetch(db_dsn, lengths)[0]["value"] == "6,7,8"
    leak = tmp_path / "paste.txt"
    leak.write_text(f"{rows[3].forenames} {rows[3].surname} pay 12345678\n")
    res = lw("scan", "--format", "jsonl", str(leak))
    assert res.code == 1 and '"pay_number"' in res.out
