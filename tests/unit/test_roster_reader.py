"""Roster reading and validation: formats, encodings, headers, aliases, checks.

Every roster here is synthetic: made-up names, numbers and example.* addresses.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from leakwatch.errors import LeakwatchError
from leakwatch.normalise import digits
from leakwatch.roster.reader import (
    ALIASES,
    CANONICAL,
    RosterFileError,
    RosterProblem,
    RosterRead,
    count_data_rows,
    read_roster,
)

HEADER = "Staff ID,Forenames,Surname,Pay Number,Warrant Number,Email,Rank,Unit,Vetting"
ROW_A = "SX1001,Alys,Fenwick-Orme,400101,5101,alys.fenwick@example.police.uk,Constable,Response,RV"
ROW_B = "SX1002,Bram,Quennell,400102,5102,bram.quennell@example.police.uk,Sergeant,CID,SC"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def csv_of(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def only_problem(read: RosterRead) -> RosterProblem:
    assert len(read.problems) == 1, [str(p) for p in read.problems]
    return read.problems[0]


# --------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_delimiter_is_sniffed(tmp_path, delim):
    """Comma, semicolon, tab and pipe separated rosters all read to the same rows."""
    text = csv_of(*(line.replace(",", delim) for line in (HEADER, ROW_A, ROW_B)))
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.problems == []
    assert [r.staff_id for r in read.rows] == ["SX1001", "SX1002"]
    first = read.rows[0]
    assert (first.forenames, first.surname, first.pay_number, first.warrant_number) == (
        "Alys", "Fenwick-Orme", "400101", "5101")
    assert (first.email, first.rank, first.unit, first.vetting) == (
        "alys.fenwick@example.police.uk", "Constable", "Response", "RV")
    assert first.line == 2 and first.sheet is None


def test_tsv_extension_reads_tab_separated(tmp_path):
    """A .tsv file is read as tab-separated."""
    text = csv_of(*(line.replace(",", "\t") for line in (HEADER, ROW_A)))
    read = read_roster(write(tmp_path, "roster.tsv", text))
    assert [r.surname for r in read.rows] == ["Fenwick-Orme"]
    assert "tab" in read.format


def test_semicolon_file_with_commas_inside_values(tmp_path):
    """A semicolon roster whose values contain commas still picks the semicolon."""
    text = csv_of("Staff ID;Surname;Unit", "SX1;Quennell;Response, North", "SX2;Orme;CID, South")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert [r.unit for r in read.rows] == ["Response, North", "CID, South"]


# --------------------------------------------------------------------------- encodings


def test_utf8_bom_is_not_part_of_first_heading(tmp_path):
    """A UTF-8 byte-order mark does not stop the first heading (Staff ID) matching."""
    path = write(tmp_path, "roster.csv", csv_of(HEADER, ROW_A), encoding="utf-8-sig")
    read = read_roster(path)
    assert read.columns["staff_id"] == "Staff ID"
    assert read.rows[0].staff_id == "SX1001"


def test_utf16_with_bom_reads_accented_names(tmp_path):
    """UTF-16 (with BOM), as Excel's 'Unicode text' writes it, reads accented names intact."""
    text = csv_of("Staff ID\tForename\tSurname", "SX1\tZoë\tMüller-Łęcka", "SX2\tRenée\tÓ Dálaigh")
    read = read_roster(write(tmp_path, "roster.txt", text, encoding="utf-16"))
    assert [(r.forenames, r.surname) for r in read.rows] == [
        ("Zoë", "Müller-Łęcka"), ("Renée", "Ó Dálaigh")]


def test_cp1252_fallback_reads_accented_names(tmp_path):
    """A cp1252 (Windows Excel) CSV that is not valid UTF-8 is read as cp1252."""
    text = csv_of("Staff ID,Forename,Surname", "SX1,Zoë,Brontë", "SX2,Renée,Façade", "SX3,José,Núñez")
    read = read_roster(write(tmp_path, "roster.csv", text, encoding="cp1252"))
    assert read.problems == []
    assert [r.forenames + " " + r.surname for r in read.rows] == [
        "Zoë Brontë", "Renée Façade", "José Núñez"]
    assert "cp1252" in read.format


def test_undecodable_bytes_in_utf8_file_are_flagged(tmp_path):
    """A mostly-UTF-8 file with a stray bad byte flags that cell as unreadable, not mojibake."""
    data = csv_of("Staff ID,Forename,Surname", "SX1,Zoë,Brontë", "SX2,Amélie,Dœuf").encode()
    data += b"SX3,Ren\xe9e,Orme\n"  # one cp1252 byte in a UTF-8 file
    read = read_roster(write_bytes(tmp_path, "roster.csv", data))
    assert [r.surname for r in read.rows] == ["Brontë", "Dœuf"]
    problem = only_problem(read)
    assert (problem.line, problem.field) == (4, "forenames")
    assert "unreadable" in problem.message


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- headers


def test_header_found_below_title_block(tmp_path):
    """A header below a 3-line title block is found and line numbers stay physical."""
    text = csv_of(
        "Example Constabulary - Staff Roster",
        "Exported 2024-03-01 by HR",
        ",,,",
        "Staff ID,First Name,Surname,Pay No.",
        "SX1,Alys,Fenwick,400101",
        "SX2,Bram,Quennell,400102",
    )
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.problems == []
    assert [(r.line, r.surname) for r in read.rows] == [(5, "Fenwick"), (6, "Quennell")]


@pytest.mark.parametrize(
    "heading, canonical",
    [
        ("Employee Number", "staff_id"), ("emp_no", "staff_id"), ("HR Ref", "staff_id"),
        ("Person ID", "staff_id"), ("ID", "staff_id"), ("Staff #", "staff_id"),
        ("First Name(s)", "forenames"), ("Given names", "forenames"), ("CHRISTIAN NAME", "forenames"),
        ("Pay No.", "pay_number"), ("pay_no", "pay_number"), ("PAY NUMBER", "pay_number"),
        ("Payroll No", "pay_number"), ("Pay Ref", "pay_number"), ("PayrollNumber", "pay_number"),
        ("Collar/Warrant", "warrant_number"), ("Shoulder Number", "warrant_number"),
        ("collar no", "warrant_number"), ("Warrant No.", "warrant_number"),
        ("E-mail", "email"), ("Work Email", "email"), ("email_address", "email"),
        ("Grade", "rank"), ("Department", "unit"), ("Borough", "unit"), ("Station", "unit"),
        ("Clearance", "vetting"), ("Vetting Level", "vetting"),
    ],
)
def test_heading_aliases(tmp_path, heading, canonical):
    """Accepted heading spellings map to their canonical column, folding case and punctuation."""
    col = "Staff ID" if canonical != "staff_id" else heading
    other = f",{heading}" if canonical not in ("staff_id", "surname") else ""
    value = {"pay_number": "400101", "warrant_number": "5101",
             "email": "a.b@example.police.uk"}.get(canonical, "Value1")
    text = csv_of(f"{col},Last Name{other}", f"SX1,Quennell{',' + value if other else ''}")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.columns[canonical] == heading
    assert read.problems == []
    assert getattr(read.rows[0], canonical) == ("SX1" if canonical == "staff_id" else value)


def test_more_specific_alias_wins_and_loser_is_ignored(tmp_path):
    """With both 'ID' and 'Staff ID' present, 'Staff ID' is used and 'ID' listed as ignored."""
    text = csv_of("ID,Staff ID,Surname", "7,SX1,Quennell")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.rows[0].staff_id == "SX1"
    assert read.columns["staff_id"] == "Staff ID"
    assert read.ignored == ["ID"]


def test_unknown_columns_ignored_and_listed(tmp_path):
    """Unknown headings are ignored and listed in `ignored` for the CLI to mention."""
    text = csv_of("Staff ID,Surname,Date of Birth,Home Postcode", "SX1,Quennell,1980-01-01,ZZ1 1ZZ")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.ignored == ["Date of Birth", "Home Postcode"]
    assert read.rows[0].surname == "Quennell"


def test_missing_staff_id_column_is_a_file_error_naming_it(tmp_path):
    """A header with a surname but no staff_id column raises RosterFileError naming staff_id."""
    path = write(tmp_path, "roster.csv", csv_of("Forename,Surname,Email", "Alys,Fenwick,a@example.uk"))
    with pytest.raises(RosterFileError) as err:
        read_roster(path)
    assert "staff_id" in str(err.value) and str(path) in str(err.value)
    assert "Fenwick" not in str(err.value)


def test_missing_surname_column_is_a_file_error_naming_it(tmp_path):
    """No row with a surname heading raises RosterFileError naming surname as missing."""
    path = write(tmp_path, "roster.csv", csv_of("Staff ID,Full Name,Email", "SX1,Alys Fenwick,a@example.uk"))
    with pytest.raises(RosterFileError) as err:
        read_roster(path)
    message = str(err.value)
    assert "no header row" in message and "but no surname" in message and str(path) in message
    assert "Alys" not in message


def test_roster_file_error_is_a_leakwatch_error(tmp_path):
    """RosterFileError is a LeakwatchError, so the CLI prints it instead of a traceback."""
    path = write(tmp_path, "notes.txt", "just some prose\nwith no table in it\n")
    with pytest.raises(LeakwatchError, match="notes.txt: no header row found"):
        read_roster(path)


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("empty.csv", b"", "empty file"),
        ("blank.csv", b"\n \n", "empty file"),
        ("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xls"),
        ("blob.csv", bytes(range(256)) * 8, "binary"),
    ],
)
def test_unusable_files_raise_file_error(tmp_path, name, data, words):
    """Empty, legacy .xls and binary files raise RosterFileError naming the file."""
    path = write_bytes(tmp_path, name, data)
    with pytest.raises(RosterFileError) as err:
        read_roster(path)
    assert name in str(err.value) and words in str(err.value)


def test_missing_file_raises_file_error(tmp_path):
    """A missing path raises RosterFileError naming it, not FileNotFoundError."""
    with pytest.raises(RosterFileError, match="nowhere.csv: cannot read"):
        read_roster(tmp_path / "nowhere.csv")


# --------------------------------------------------------------------------- rows and lines


def test_empty_rows_skipped_silently(tmp_path):
    """Blank lines and rows of empty cells are skipped without problems."""
    text = csv_of(HEADER, "", ROW_A, ",,,,,,,,", " , , ", "", ROW_B, "")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.problems == []
    assert [r.line for r in read.rows] == [3, 7]


def test_line_numbers_count_quoted_newlines(tmp_path):
    """A quoted value spanning lines advances the line numbers of the rows after it."""
    text = csv_of("Staff ID,Surname,Unit", 'SX1,Fenwick,"Response\nTeam 2\nNorth"', "SX2,Quennell,CID",
                  "SX3,,CID")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert [(r.staff_id, r.line) for r in read.rows] == [("SX1", 2), ("SX2", 5)]
    assert read.rows[0].unit == "Response\nTeam 2\nNorth"
    assert only_problem(read).line == 6


def test_values_are_trimmed_and_staff_id_kept_as_given(tmp_path):
    """Values are trimmed; the staff_id keeps its case and inner characters."""
    text = csv_of("Staff ID,Surname,Forename", "  sx-0001/B ,  Quennell\t, Bram ")
    row = read_roster(write(tmp_path, "roster.csv", text)).rows[0]
    assert (row.staff_id, row.surname, row.forenames) == ("sx-0001/B", "Quennell", "Bram")


def test_repeated_header_row_is_skipped(tmp_path):
    """A header repeated mid-file (concatenated exports) is skipped, not reported."""
    text = csv_of("Staff ID,Surname", "SX1,Fenwick", "Staff ID,Surname", "SX2,Quennell")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.problems == [] and [r.staff_id for r in read.rows] == ["SX1", "SX2"]


def test_placeholders_in_identifier_columns_read_as_blank(tmp_path):
    """'N/A', '-' and 'none' in pay/warrant/email columns mean no value, not a bad value."""
    text = csv_of("Staff ID,Surname,Pay No,Warrant No,Email",
                  "SX1,Fenwick,400101,N/A,-", "SX2,Na,none,n/a,")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.problems == []
    assert [(r.warrant_number, r.email) for r in read.rows] == [("", ""), ("", "")]
    assert read.rows[1].surname == "Na"  # names are never placeholders
    assert read.rows[1].pay_number == ""


def test_excel_text_formula_wrapper_is_unwrapped(tmp_path):
    """Excel's ="0012345" leading-zero trick reads as the digits inside."""
    text = csv_of("Staff ID,Surname,Pay No", 'SX1,Fenwick,"=""0012345"""')
    assert read_roster(write(tmp_path, "roster.csv", text)).rows[0].pay_number == "0012345"


def test_rows_hide_values_in_repr(tmp_path):
    """Neither rows nor the read result show roster values in repr/str."""
    read = read_roster(write(tmp_path, "roster.csv", csv_of(HEADER, ROW_A)))
    shown = repr(read) + repr(read.rows) + str(read.rows[0])
    for value in ROW_A.split(","):
        assert value not in shown


# --------------------------------------------------------------------------- validation

# (row cells for "Staff ID,Surname,Pay No,Warrant No,Email", field, message pattern, secret value)
BAD_ROWS = [
    (",Fenwick,400101,5101,a.f@example.police.uk", "staff_id", r"^missing staff_id$", None),
    ("SX9,,400101,5101,a.f@example.police.uk", "surname", r"^missing surname$", None),
    ("SX9,Fenwick,400101,5101,zq.secret.example.uk", "email", r"^malformed e-mail address$",
     "zq.secret.example.uk"),
    ("SX9,Fenwick,400101,5101,zq@secret", "email", r"^malformed e-mail address$", "zq@secret"),
    ("SX9,Fenwick,400101,5101,zq secret@example.uk", "email", r"malformed", "zq secret"),
    ("SX9,Fenwick,400101,5101,@example.uk", "email", r"malformed", "@example.uk"),
    ("SX9,Fenwick,unpaid,5101,", "pay_number", r"^pay_number has no digits$", "unpaid"),
    ("SX9,Fenwick,PN40x0101,5101,", "pay_number", r"other than digits", "PN40x0101"),
    ("SX9,Fenwick,47,5101,", "pay_number", r"fewer than 3 digits", None),
    ("SX9,Fenwick,400101,none-yet,", "warrant_number", r"^warrant_number has no digits$", "none-yet"),
    ("SX9,Fenwick,400101,AB5101,", "warrant_number", r"other than digits", "AB5101"),
    ("SX9,Fenwick,400101,5-1,", "warrant_number", r"fewer than 3 digits", None),
    ("SX9,Fenwick,400101,#REF!,", "warrant_number", r"unreadable cell", "#REF!"),
]


@pytest.mark.parametrize("cells, field, pattern, secret", BAD_ROWS,
                         ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_ROWS)])
def test_each_problem_names_line_and_field_but_not_value(tmp_path, cells, field, pattern, secret):
    """Each check yields one problem naming line and field, never quoting the value."""
    text = csv_of("Staff ID,Surname,Pay No,Warrant No,Email",
                  "SX1,Quennell,400001,5001,b.q@example.police.uk", cells)
    read = read_roster(write(tmp_path, "roster.csv", text))
    problem = only_problem(read)
    assert (problem.line, problem.field, problem.sheet) == (3, field, None)
    assert re.search(pattern, problem.message)
    shown = str(problem)
    assert shown.startswith(f"roster.csv line 3, field {field}: ")
    assert "Fenwick" not in shown
    if secret:
        assert secret not in shown and secret not in repr(problem.message)
    assert [r.staff_id for r in read.rows] == ["SX1"]  # the bad row is left out


@pytest.mark.parametrize("value, expected", [
    ("400-101", "400-101"), ("400 101", "400 101"), ("40.01.01", "40.01.01"),
    ("4OO1Ol", "4OO1Ol"),  # O and l look-alikes are read as digits when hashing
])
def test_identifier_separators_and_lookalikes_accepted(tmp_path, value, expected):
    """Spaces, hyphens, dots and O/l look-alikes in identifiers are accepted as given."""
    text = csv_of("Staff ID,Surname,Pay No,Collar No", f"SX1,Fenwick,{value},{value}")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert read.problems == []
    assert read.rows[0].pay_number == expected and read.rows[0].warrant_number == expected


def test_every_bad_field_of_a_row_is_reported(tmp_path):
    """A row with several bad fields gets one problem per field, in column order."""
    text = csv_of("Staff ID,Surname,Pay No,Email", ",,12,nobody")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert [p.field for p in read.problems] == ["staff_id", "surname", "email", "pay_number"]
    assert read.rows == []


def test_duplicate_staff_id_names_first_line(tmp_path):
    """A repeated staff_id is a problem naming the line it was first seen on; the first row stays."""
    text = csv_of("Staff ID,Surname", "SX1,Fenwick", "SX2,Quennell", "SX1,Orme", "sx2,Tallis")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert [r.line for r in read.rows] == [2, 3]
    assert [(p.line, p.field, p.message) for p in read.problems] == [
        (4, "staff_id", "duplicate staff_id (first seen on line 2)"),
        (5, "staff_id", "duplicate staff_id (first seen on line 3)"),
    ]
    assert "SX1" not in str(read.problems[0])


def test_duplicate_pay_number_names_first_line(tmp_path):
    """A repeated pay number (compared as digits) is a problem naming the first line."""
    text = csv_of("Staff ID,Surname,Pay No", "SX1,Fenwick,400101", "SX2,Quennell,400-101")
    read = read_roster(write(tmp_path, "roster.csv", text))
    problem = only_problem(read)
    assert (problem.line, problem.field, problem.message) == (
        3, "pay_number", "duplicate pay_number (first seen on line 2)")
    assert "400" not in str(problem)


def test_no_roster_value_reaches_any_problem(tmp_path):
    """Across a roster full of bad rows, no cell value appears in any problem text."""
    rows = [
        "ZQA1,Zyxwick,ZZ12,QQ9,broken-at-example",
        "ZQA1,Vortigern,987654,54321,mail@nowhere",
        ",Ulverstone,987654,x,",
        "ZQA4,,#VALUE!,99,w@example..uk",
    ]
    read = read_roster(write(tmp_path, "roster.csv", csv_of("Staff ID,Surname,Pay No,Warrant No,Email", *rows)))
    text = "\n".join(str(p) for p in read.problems) + repr(read.problems)
    assert len(read.problems) >= 8
    for row in rows:
        for value in row.split(","):
            if len(value) >= 2:
                assert value not in text, value


# --------------------------------------------------------------------------- XLSX


def make_workbook(path: Path) -> Path:
    """Visible 'Staff' (title block, header on row 4), hidden 'Leavers', very hidden 'Extra', plain 'Notes'."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Staff"
    ws.append(["Example Constabulary staff list"])
    ws.append(["Generated", date(2024, 3, 1)])
    ws.append([])
    ws.append(["Employee No", "Forename", "Surname", "Payroll Number", "Collar No", "Start Date", "Notes"])
    ws.append(["SX1", "Alys", "Fenwick", 400101, 5101, datetime(2019, 4, 1), "x"])
    ws.append(["SX2", "Bram", "Quennell", 400102.0, "5102", datetime(2020, 5, 6, 9, 30)])
    ws.append([])
    ws.append([1003, "Cerys", "Orme", 400103, None])  # numeric staff id
    leavers = wb.create_sheet("Leavers")
    leavers.sheet_state = "hidden"
    leavers.append(["Staff ID", "Surname", "Pay No"])
    leavers.append(["SX4", "Tallis", 400104])
    extra = wb.create_sheet("Extra")
    extra.sheet_state = "veryHidden"
    extra.append([])
    extra.append(["Person ID", "Last Name", "Email"])
    extra.append(["SX5", "Umfreville", "u.umfreville@example.police.uk"])
    notes = wb.create_sheet("Notes")
    notes.append(["This workbook is synthetic test data."])
    notes.append(["Owner", "HR"])
    wb.save(path)
    return path


def test_xlsx_reads_all_sheets_including_hidden(tmp_path):
    """Visible, hidden and very hidden sheets with a header all contribute rows; others are skipped."""
    read = read_roster(make_workbook(tmp_path / "roster.xlsx"))
    assert read.problems == []
    assert read.sheets == ["Staff", "Leavers", "Extra"]
    assert [(r.sheet, r.line, r.staff_id) for r in read.rows] == [
        ("Staff", 5, "SX1"), ("Staff", 6, "SX2"), ("Staff", 8, "1003"),
        ("Leavers", 2, "SX4"), ("Extra", 3, "SX5"),
    ]
    assert read.columns["staff_id"] == "Employee No"  # first sheet that has the column
    assert read.columns["email"] == "Email"
    assert "Start Date" in read.ignored and "Notes" in read.ignored
    assert read.format == "XLSX"


def test_xlsx_numbers_become_clean_digit_strings(tmp_path):
    """Pay numbers stored as int or float (400102.0) read as plain digit strings."""
    read = read_roster(make_workbook(tmp_path / "roster.xlsx"))
    assert [r.pay_number for r in read.rows] == ["400101", "400102", "400103", "400104", ""]
    assert [r.warrant_number for r in read.rows[:3]] == ["5101", "5102", ""]


def test_xlsx_leading_zero_number_format_is_kept(tmp_path):
    """A number formatted '000000' keeps its leading zeros; dates are stringified ISO-style."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Staff ID", "Surname", "Pay No", "Vetting"])
    ws.append(["SX1", "Fenwick", 1234, datetime(2023, 1, 31)])
    ws["C2"].number_format = "000000"
    wb.save(tmp_path / "r.xlsx")
    row = read_roster(tmp_path / "r.xlsx").rows[0]
    assert row.pay_number == "001234"
    assert row.vetting == "2023-01-31"


def test_xlsx_error_cell_is_unreadable_problem(tmp_path):
    """An error cell (#REF!) in a roster column is an 'unreadable cell' problem on that sheet row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Staff"
    ws.append(["Staff ID", "Surname", "Pay No"])
    ws.append(["SX1", "Fenwick", 400101])
    ws.append(["SX2", "Quennell", "#REF!"])
    assert ws["C3"].data_type == "e"
    wb.save(tmp_path / "r.xlsx")
    read = read_roster(tmp_path / "r.xlsx")
    problem = only_problem(read)
    assert (problem.sheet, problem.line, problem.field) == ("Staff", 3, "pay_number")
    assert "unreadable" in problem.message
    assert str(problem) == "r.xlsx sheet 'Staff' row 3, field pay_number: " + problem.message
    assert [r.staff_id for r in read.rows] == ["SX1"]


def test_xlsx_duplicate_across_sheets_names_sheet(tmp_path):
    """A staff_id repeated on another sheet names the sheet and row it was first seen on."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Officers"
    ws.append(["Staff ID", "Surname"])
    ws.append(["SX1", "Fenwick"])
    other = wb.create_sheet("Staff")
    other.append(["Staff ID", "Surname"])
    other.append(["SX2", "Quennell"])
    other.append(["SX2", "Quennell"])
    other.append(["SX1", "Fenwick"])
    wb.save(tmp_path / "r.xlsx")
    read = read_roster(tmp_path / "r.xlsx")
    assert [(p.sheet, p.line, p.message) for p in read.problems] == [
        ("Staff", 3, "duplicate staff_id (first seen on row 2)"),
        ("Staff", 4, "duplicate staff_id (first seen on sheet 'Officers' row 2)"),
    ]


def test_xlsx_without_roster_sheet_is_file_error(tmp_path):
    """A workbook with no recognisable header on any sheet raises RosterFileError."""
    wb = openpyxl.Workbook()
    wb.active.append(["Name", "Email"])
    wb.active.append(["Alys Fenwick", "a.f@example.police.uk"])
    wb.save(tmp_path / "r.xlsx")
    with pytest.raises(RosterFileError, match=r"r\.xlsx: no sheet has a header row.*but no staff_id, surname"):
        read_roster(tmp_path / "r.xlsx")


def test_xlsx_sheet_with_surname_but_no_staff_id_is_file_error(tmp_path):
    """A sheet whose header has a surname but no staff_id column raises, naming sheet and column."""
    wb = openpyxl.Workbook()
    wb.active.title = "Staff"
    wb.active.append(["Forename", "Surname"])
    wb.save(tmp_path / "r.xlsx")
    with pytest.raises(RosterFileError, match=r"sheet 'Staff' row 1 .*no staff_id column"):
        read_roster(tmp_path / "r.xlsx")


@pytest.mark.parametrize("keep", [0.5, 0.9, 30])
def test_truncated_xlsx_is_file_error(tmp_path, keep):
    """A truncated XLSX raises RosterFileError naming the file, never a raw traceback."""
    good = make_workbook(tmp_path / "good.xlsx").read_bytes()
    cut = int(len(good) * keep) if keep < 1 else keep
    path = write_bytes(tmp_path, "roster.xlsx", good[:cut])
    with pytest.raises(RosterFileError) as err:
        read_roster(path)
    assert str(path) in str(err.value) and "XLSX" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_text_named_xlsx_is_file_error(tmp_path):
    """A CSV saved with an .xlsx name raises RosterFileError rather than parsing as a workbook."""
    path = write(tmp_path, "roster.xlsx", csv_of(HEADER, ROW_A))
    with pytest.raises(RosterFileError, match="roster.xlsx: not a readable XLSX workbook"):
        read_roster(path)


# --------------------------------------------------------------------------- progress and estimate


def test_progress_called_every_thousand_rows_and_at_end(tmp_path):
    """The progress callback gets the running row count every 1000 rows and once at the end."""
    lines = [HEADER] + [f"S{i},Surname{i},{100000 + i},,,,,," for i in range(2500)]
    seen: list[int] = []
    read = read_roster(write(tmp_path, "roster.csv", csv_of(*lines)), progress=seen.append)
    assert seen == [1000, 2000, 2500]
    assert len(read.rows) == 2500


def test_count_data_rows_estimates(tmp_path):
    """count_data_rows gives lines less the header for text, a number for XLSX, None if unreadable."""
    path = write(tmp_path, "roster.csv", csv_of(HEADER, ROW_A, ROW_B))
    assert count_data_rows(path) == 2
    assert count_data_rows(write(tmp_path, "nolf.csv", HEADER + "\n" + ROW_A)) == 1
    assert isinstance(count_data_rows(make_workbook(tmp_path / "r.xlsx")), int)
    assert count_data_rows(write_bytes(tmp_path, "bad.xlsx", b"PK\x03\x04garbage")) is None
    assert count_data_rows(tmp_path / "missing.csv") is None


# --------------------------------------------------------------------------- consistency


def test_docs_list_every_alias():
    """docs/roster-format.md lists every canonical column and every accepted heading."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "roster-format.md").read_text()
    for canonical, spellings in ALIASES.items():
        assert f"`{canonical}`" in doc
        for spelling in spellings:
            assert f"`{spelling}`" in doc, spelling
    assert set(ALIASES) == set(CANONICAL)


@pytest.mark.parametrize("value", ["400101", "4OO-1Ol", "12 34.56", "l|iIoO0"])
def test_pay_number_digits_agree_with_normalise(tmp_path, value):
    """Duplicate pay numbers are found on the same digits `normalise.digits` hashes."""
    text = csv_of("Staff ID,Surname,Pay No", f"SX1,Fenwick,{value}", f"SX2,Quennell,{digits(value)}")
    read = read_roster(write(tmp_path, "roster.csv", text))
    assert [p.message for p in read.problems] == ["duplicate pay_number (first seen on line 2)"]


@pytest.mark.slow
def test_large_csv_reads_quickly(tmp_path):
    """A 250,000-row CSV reads and validates in a few seconds (generous bound for slow CI)."""
    path = tmp_path / "big.csv"
    with path.open("w") as fh:
        fh.write(HEADER + "\n")
        for i in range(250_000):
            fh.write(f"S{i:07d},Alex,Testperson{i},{1_000_000 + i},{200_000 + i},"
                     f"a.t{i}@example.police.uk,Constable,Unit {i % 50},SC\n")
    start = time.process_time()
    read = read_roster(path)
    elapsed = time.process_time() - start
    assert len(read.rows) == 250_000 and read.problems == []
    assert elapsed < 15, f"{elapsed:.1f}s CPU"
