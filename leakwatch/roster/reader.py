"""Read and validate a roster file (CSV/TSV or XLSX); the plaintext stays in memory.

`read_roster` finds the header row (below a title block if need be), maps the
headings to the canonical columns through `ALIASES`, and checks every row. Rows
that fail a check are left out of `RosterRead.rows`; each failed check becomes a
`RosterProblem` naming the line (or sheet and row) and the field, and never the
value: problem lists get printed, logged and pasted into tickets, so nothing a
roster holds may reach them. `RosterRow.__repr__` hides values for the same
reason. See docs/roster-format.md for the rules as users see them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as _dt
import gc
import io
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from leakwatch.errors import LeakwatchError
from leakwatch.models import RosterRow
from leakwatch.normalise import fold as _fold

__all__ = [
    "ALIASES",
    "CANONICAL",
    "REQUIRED",
    "RosterFileError",
    "RosterProblem",
    "RosterRead",
    "count_data_rows",
    "read_roster",
]

# --------------------------------------------------------------------------- columns

CANONICAL: tuple[str, ...] = (
    "staff_id", "forenames", "surname", "pay_number", "warrant_number",
    "email", "rank", "unit", "vetting",
)
REQUIRED: tuple[str, ...] = ("staff_id", "surname")

# Accepted headings per canonical column. Matching folds case, accents, punctuation
# and spaces ("Pay No.", "pay_no", "PAY NUMBER", "PayNo" are one heading) and reads
# "#" as "no" ("Staff #" = "Staff No"). When several headings in one row map to the
# same column, the one listed earlier here wins ("Staff ID" over "ID"); the others
# are ignored like unknown columns. Every canonical name ("staff_id") folds to one of its
# spellings, so it always matches. Keep docs/roster-format.md in step (a test checks).
ALIASES: dict[str, tuple[str, ...]] = {
    "staff_id": (
        "staff id", "staff no", "staff number", "staff ref", "employee id", "employee no",
        "employee number", "employee ref", "emp id", "emp no", "personnel number",
        "personnel no", "person id", "hr ref", "hr id", "hr number", "id",
    ),
    "forenames": (
        "forenames", "forename", "first names", "first name", "first name(s)",
        "given names", "given name", "given name(s)", "christian names", "christian name",
    ),
    "surname": ("surname", "last name", "family name"),
    "pay_number": (
        "pay number", "pay no", "pay ref", "payroll number", "payroll no", "payroll id",
        "payroll ref",
    ),
    "warrant_number": (
        "warrant number", "warrant no", "warrant card number", "warrant card no",
        "collar/warrant", "collar number", "collar no", "shoulder number", "shoulder no",
    ),
    "email": (
        "email", "e-mail", "email address", "e-mail address", "work email",
        "work e-mail", "work email address",
    ),
    "rank": ("rank", "grade", "rank/grade", "rank or grade"),
    "unit": (
        "unit", "department", "dept", "command", "team", "borough", "station",
        "division", "bcu", "ocu",
    ),
    "vetting": (
        "vetting", "vetting level", "vetting status", "clearance", "clearance level",
        "security clearance",
    ),
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _heading_key(text: str) -> str:
    """A heading folded for lookup: "Pay No." / "pay_no" / "PAY NUMBER" -> "payno" / "paynumber"."""
    return _NOT_ALNUM.sub("", _fold(text.replace("#", "no")))


# heading key -> (canonical column, priority: lower wins)
_HEADINGS: dict[str, tuple[str, int]] = {}
for _canon, _spellings in ALIASES.items():
    for _prio, _spelling in enumerate(_spellings):
        _key = _heading_key(_spelling)
        _prev = _HEADINGS.get(_key)
        if _prev is not None and _prev[0] != _canon:  # pragma: no cover - a bug in ALIASES
            raise AssertionError(f"heading {_spelling!r} maps to {_prev[0]} and {_canon}")
        _HEADINGS.setdefault(_key, (_canon, _prio))
assert set(ALIASES) == set(CANONICAL)
assert all(_HEADINGS[_heading_key(_c)][0] == _c for _c in CANONICAL)

HEADER_SCAN_ROWS = 50  # the header row must be among the first this many rows
PROGRESS_EVERY = 1000

# --------------------------------------------------------------------------- results


class RosterFileError(LeakwatchError):
    """The file as a whole cannot be used as a roster; the message names the file."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class RosterProblem(NamedTuple):
    """One failed check on one field of one row; says where and what, never the value."""

    line: int  # physical line (CSV, 1-based) or sheet row number (XLSX)
    field: str  # canonical column name
    message: str
    sheet: str | None = None
    file: str = ""  # file name (not the full path), for str()

    def __str__(self) -> str:
        where = f"{self.file} " if self.file else ""
        if self.sheet is not None:
            where += f"sheet {self.sheet!r} row {self.line}"
        else:
            where += f"line {self.line}"
        return f"{where}, field {self.field}: {self.message}"


@dataclass
class RosterRead:
    """What `read_roster` found: good rows, problems, and how the columns were understood."""

    rows: list[RosterRow]
    problems: list[RosterProblem]
    columns: dict[str, str]  # canonical -> heading as found (first sheet that has it)
    ignored: list[str] = field(default_factory=list)  # headings not used, as found
    sheets: list[str] = field(default_factory=list)  # XLSX sheets that contributed rows
    format: str = ""  # e.g. "CSV (UTF-8, delimiter ';')" or "XLSX"

    def __repr__(self) -> str:
        return (f"RosterRead({len(self.rows)} rows, {len(self.problems)} problems, "
                f"columns={sorted(self.columns)})")


# --------------------------------------------------------------------------- header detection


@dataclass
class _Header:
    index: int  # 0-based position among the rows scanned
    mapping: dict[str, int]  # canonical -> 0-based column index
    found: dict[str, str]  # canonical -> heading text
    ignored: list[str]


def _match_header(cells: Sequence[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    best: dict[str, tuple[int, int]] = {}  # canonical -> (priority, column)
    for col, cell in enumerate(cells):
        if not cell:
            continue
        hit = _HEADINGS.get(_heading_key(cell))
        if hit is None:
            continue
        canon, prio = hit
        if canon not in best or prio < best[canon][0]:
            best[canon] = (prio, col)
    mapping = {canon: col for canon, (_, col) in best.items()}
    used = set(mapping.values())
    ignored = [c.strip() for i, c in enumerate(cells) if c and c.strip() and i not in used]
    found = {canon: cells[col].strip().lstrip("\ufeff") for canon, col in mapping.items()}
    return mapping, found, ignored


def _find_header(rows: Iterable[Sequence[str]]) -> tuple[_Header | None, tuple[int, list[str]] | None]:
    """The first row with >= 2 known headings including surname; else the closest row seen.

    The second value (row index, canonical columns it has) is only for the error message.
    """
    closest: tuple[int, list[str]] | None = None
    for index, cells in enumerate(rows):
        mapping, found, ignored = _match_header(cells)
        if len(mapping) >= 2 and "surname" in mapping:
            return _Header(index, mapping, found, ignored), None
        if mapping and (closest is None or len(mapping) > len(closest[1])):
            closest = (index, [c for c in CANONICAL if c in mapping])
    return None, closest


def _no_header_reason(closest: tuple[int, list[str]] | None, unit: str, first: int = 1) -> str:
    need = " and ".join(REQUIRED)
    reason = (f"no header row found in the first {HEADER_SCAN_ROWS} rows: need a row with "
              f"columns {need} (see docs/roster-format.md for the accepted headings)")
    if closest is not None:
        index, has = closest
        missing = [c for c in REQUIRED if c not in has]
        reason += (f"; the closest is {unit} {index + first}, which has {', '.join(has)} "
                   f"but no {', '.join(missing) or 'second known column'}")
    return reason


def _column_order(mapping: dict[str, int]) -> list[tuple[str, int]]:
    """(canonical, column) pairs for `_Checker.add`: the required columns first."""
    return [(c, mapping[c], c in _PLACEHOLDER_FIELDS) for c in REQUIRED] + [
        (c, mapping[c], c in _PLACEHOLDER_FIELDS) for c in CANONICAL if c in mapping and c not in REQUIRED]


def _missing_required_reason(missing: list[str], where: str) -> str:
    accepted = "; ".join(f"{c}: " + ", ".join(repr(a) for a in ALIASES[c]) for c in missing)
    return (f"{where} looks like the header but has no {' or '.join(missing)} column "
            f"(accepted headings: {accepted})")


# --------------------------------------------------------------------------- validation

_EMAIL = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^\W\d_]{2,}")
# What may stand in an identifier besides digits: separators and the O/l look-alikes
# that `normalise.digits` reads as digits.
_ID_ALLOWED = str.maketrans("", "", "0123456789 -.oOlIi|")
_ID_TO_DIGITS = str.maketrans({"o": "0", "O": "0", "l": "1", "I": "1", "i": "1", "|": "1",
                               " ": None, "-": None, ".": None})
_ASCII_DIGITS = frozenset("0123456789")
_ERROR_VALUES = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
    "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!",
    "#BUSY!", "#EXTERNAL!", "#PYTHON!",
})
# Read as "no value" (a civilian's warrant number is often "N/A") ...
_PLACEHOLDERS = frozenset({
    "-", "--", "---", "—", "–", "n/a", "na", "n.a.", "n.a", "none", "nil", "null",
    "tbc", "tba", "unknown", "not applicable", "?",
})
# ... in these columns only: names can be "Na" or "Nil", and rank/unit/vetting are kept as text.
_PLACEHOLDER_FIELDS = frozenset({"staff_id", "pay_number", "warrant_number", "email"})


# What an XLSX error cell of any kind reads as (it is one of _ERROR_VALUES).
UNREADABLE = "#UNREADABLE!"
_ERROR_VALUES = _ERROR_VALUES | {UNREADABLE}
_SPECIAL_FIRST = frozenset("#=")  # error values, ="0123" (Excel's keep-the-zeros trick)
_PLACEHOLDER_FIRST = frozenset("".join(p[0] + p[0].upper() for p in _PLACEHOLDERS))


class _Checker:
    """Validates rows one at a time; keeps the first line of every staff_id and pay number."""

    def __init__(self, file: str, progress: Callable[[int], None] | None):
        self.file = file
        self.progress = progress
        self.rows: list[RosterRow] = []
        self.problems: list[RosterProblem] = []
        self.count = 0  # data rows read (after a header), empty ones included
        self.check_fffd = True  # False when the text decoded without replacement characters
        self._ids: dict[str, tuple[int, str | None]] = {}
        self._pays: dict[str, tuple[int, str | None]] = {}

    def finish(self) -> None:
        if self.progress is not None and self.count % PROGRESS_EVERY:
            self.progress(self.count)

    def _first_seen(self, first: tuple[int, str | None], sheet: str | None) -> str:
        line, first_sheet = first
        if first_sheet is None:
            return f"first seen on line {line}"
        if first_sheet == sheet:
            return f"first seen on row {line}"
        return f"first seen on sheet {first_sheet!r} row {line}"

    def add(self, cells: Sequence[str], line: int, sheet: str | None,
            columns: Sequence[tuple[str, int, bool]], header: Sequence[str]) -> None:
        """Check one data row and keep it if nothing is wrong.

        `columns` is the header mapping from `_column_order`: (canonical, column index,
        placeholders-mean-blank) with staff_id first and surname second; `header` the
        trimmed header cells, at least as wide as the widest mapped column.
        """
        self.count += 1
        if self.progress is not None and self.count % PROGRESS_EVERY == 0:
            self.progress(self.count)
        width = len(header)
        if len(cells) < width:
            cells = [*cells, *([""] * (width - len(cells)))]
        problems: list[tuple[str, str]] = []  # (field, message)
        values = dict.fromkeys(CANONICAL, "")
        check_fffd = self.check_fffd
        for canon, col, placeholders in columns:
            value = cells[col].strip()
            if not value:
                continue
            first = value[0]
            if first in _SPECIAL_FIRST:
                if first == "#" and value in _ERROR_VALUES:
                    problems.append((canon, "unreadable cell (spreadsheet error value)"))
                    values[canon] = None  # type: ignore[assignment]  # reported: no more checks
                    continue
                if first == "=" and value.startswith('="') and value.endswith('"') and len(value) >= 3:
                    value = value[2:-1].strip()
                    if not value:
                        continue
                    first = value[0]
            if check_fffd and "\ufffd" in value:
                problems.append((canon, "unreadable cell (undecodable characters)"))
                values[canon] = None  # type: ignore[assignment]
                continue
            if placeholders and first in _PLACEHOLDER_FIRST and value.lower() in _PLACEHOLDERS:
                continue
            values[canon] = value

        if values["staff_id"] == "" and values["surname"] == "":
            if not any(c.strip() for c in cells):
                return  # completely empty: skipped silently
        elif values["staff_id"] == header[columns[0][1]] and values["surname"] == header[columns[1][1]]:
            return  # the header repeated (concatenated exports): not a staff member

        staff_id = values["staff_id"]
        if staff_id == "":
            problems.append(("staff_id", "missing staff_id"))
        if values["surname"] == "":
            problems.append(("surname", "missing surname"))
        email = values["email"]
        if email and not _EMAIL.fullmatch(email):
            problems.append(("email", "malformed e-mail address"))
        pay_digits = ""
        for canon in ("pay_number", "warrant_number"):
            value = values[canon]
            if not value:
                continue
            if value.isdigit() and value.isascii():
                got = value  # the common case
            elif _ASCII_DIGITS.isdisjoint(value):
                problems.append((canon, f"{canon} has no digits"))
                continue
            elif value.translate(_ID_ALLOWED):
                problems.append((canon, f"{canon} has characters other than digits, spaces, hyphens and dots"))
                continue
            else:
                got = value.translate(_ID_TO_DIGITS)  # == normalise.digits(value) for such values
            if len(got) < 3:
                problems.append((canon, f"{canon} has fewer than 3 digits"))
            elif canon == "pay_number":
                pay_digits = got

        if staff_id:
            key = staff_id.casefold()
            first = self._ids.get(key)
            if first is None:
                self._ids[key] = (line, sheet)
            else:
                problems.append(("staff_id", f"duplicate staff_id ({self._first_seen(first, sheet)})"))
        if pay_digits:
            first = self._pays.get(pay_digits)
            if first is None:
                self._pays[pay_digits] = (line, sheet)
            else:
                problems.append(("pay_number", f"duplicate pay_number ({self._first_seen(first, sheet)})"))

        if problems:
            file = self.file
            self.problems.extend(RosterProblem(line, f, m, sheet, file) for f, m in problems)
            return
        self.rows.append(RosterRow(
            line, staff_id, values["surname"], values["forenames"], values["pay_number"],
            values["warrant_number"], values["email"], values["rank"], values["unit"],
            values["vetting"], sheet,
        ))


# --------------------------------------------------------------------------- file types

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise RosterFileError(path, "is a directory, not a roster file") from None
    except OSError as exc:
        raise RosterFileError(path, f"cannot read: {exc.strerror or type(exc).__name__}") from None


def _sniff_kind(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if head.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise RosterFileError(path, "legacy Excel (.xls) files are not supported: "
                                    "save the roster as .xlsx or CSV")
    if suffix in (".ods", ".numbers"):
        raise RosterFileError(path, f"{suffix} files are not supported: save the roster as .xlsx or CSV")
    if head.startswith(_ZIP_MAGIC) or suffix in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        return "xlsx"
    if head.startswith(b"%PDF"):
        raise RosterFileError(path, "a PDF, not a roster: export the roster as .xlsx or CSV")
    return "text"


def read_roster(path: str | Path, *, progress: Callable[[int], None] | None = None) -> RosterRead:
    """Read, map and validate a roster file. Raises RosterFileError for whole-file problems.

    `progress`, if given, is called with the number of data rows read so far, every
    1000 rows and once at the end.
    """
    path = Path(path)
    if path.is_dir():
        raise RosterFileError(path, "is a directory, not a roster file")
    with _no_cyclic_gc():
        return _read_roster(path, progress)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic collector: a big roster makes ~10 small acyclic objects a row, and
    the collections they trigger cost ~20% of the read. Reference counting still frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_roster(path: Path, progress: Callable[[int], None] | None) -> RosterRead:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise RosterFileError(path, f"cannot read: {exc.strerror or type(exc).__name__}") from None
    if not head:
        raise RosterFileError(path, "empty file")
    if _sniff_kind(path, head) == "xlsx":
        return _read_xlsx(path, progress)
    return _read_text(path, _read_bytes(path), progress)


# --------------------------------------------------------------------------- CSV / TSV

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_SNIFF_CHARS = 1 << 20


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    """Text and the name of the encoding it was read as."""
    for bom, codec, name in (
        (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with BOM"),
        (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec, errors="replace"), name
    sample = data[:8192]
    if b"\x00" in sample:
        # UTF-16 without a BOM shows NULs in every other byte of ASCII text
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even * 10 < odd:
            return data.decode("utf-16-le", errors="replace"), "UTF-16LE"
        if even > len(sample) // 4 and odd * 10 < even:
            return data.decode("utf-16-be", errors="replace"), "UTF-16BE"
        raise RosterFileError(path, "binary data, not a text (CSV/TSV) or XLSX roster")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    # Mostly valid UTF-8 with a few bad bytes: keep UTF-8 (the bad cells get flagged).
    # Otherwise it is the Windows code page Excel writes (é is one byte, not two).
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad  # decoded non-ASCII
    if good > bad:
        return text, "UTF-8 (with undecodable bytes)"
    return data.decode("cp1252", errors="replace"), "cp1252"


def _csv_reader(text: str, delimiter: str):
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                      doublequote=True, strict=False)


def _read_text(path: Path, data: bytes, progress: Callable[[int], None] | None) -> RosterRead:
    text, encoding = _decode(path, data)
    del data
    if not text.strip():
        raise RosterFileError(path, "empty file")

    # Choose the delimiter under which a header row appears (most known columns wins;
    # a .tsv file prefers tab on a tie).
    sample = text[:_SNIFF_CHARS]
    order = _DELIMITERS if path.suffix.lower() != ".tsv" else ("\t", ",", ";", "|")
    best: tuple[str, _Header] | None = None
    closest: tuple[int, list[str]] | None = None
    for delim in order:
        reader = _csv_reader(sample, delim)
        rows: list[list[str]] = []
        starts: list[int] = []
        try:
            prev = 0
            for cells in islice(reader, HEADER_SCAN_ROWS):
                starts.append(prev + 1)
                prev = reader.line_num
                rows.append(cells)
        except csv.Error:
            pass
        header, near = _find_header(rows)
        if header is not None and (best is None or len(header.mapping) > len(best[1].mapping)):
            best = (delim, header)
        if near is not None and (closest is None or len(near[1]) > len(closest[1])):
            closest = (starts[near[0]] - 1, near[1])  # as a 0-based line for the message
    if best is None:
        raise RosterFileError(path, _no_header_reason(closest, "line"))
    delim, header = best

    reader = _csv_reader(text, delim)
    prev = 0
    header_line = 0
    header_cells: list[str] = []
    try:
        for index, cells in enumerate(reader):
            if index == header.index:
                header_line = prev + 1
                header_cells = [c.strip().lstrip("\ufeff") for c in cells]
                break
            prev = reader.line_num
    except csv.Error as exc:  # pragma: no cover - the sniffing pass parsed these rows
        raise RosterFileError(path, f"unreadable CSV near line {reader.line_num}: {exc}") from None

    missing = [c for c in REQUIRED if c not in header.mapping]
    if missing:
        raise RosterFileError(path, _missing_required_reason(missing, f"line {header_line}"))

    checker = _Checker(path.name, progress)
    checker.check_fffd = "\ufffd" in text
    columns = _column_order(header.mapping)
    add = checker.add
    prev = reader.line_num
    try:
        for cells in reader:
            line = prev + 1
            prev = reader.line_num
            add(cells, line, None, columns, header_cells)
    except csv.Error as exc:
        raise RosterFileError(path, f"unreadable CSV near line {reader.line_num}: {exc}") from None
    checker.finish()
    return RosterRead(
        rows=checker.rows,
        problems=checker.problems,
        columns={c: header.found[c] for c in CANONICAL if c in header.found},
        ignored=header.ignored,
        format=f"CSV ({encoding}, delimiter {_DELIMITER_NAMES[delim]})",
    )


# --------------------------------------------------------------------------- XLSX


def _number_text(value: int | float, number_format: str | None) -> str:
    if isinstance(value, float):
        if not value.is_integer():
            return repr(value)
        value = int(value)
    text = str(value)
    # A payroll number stored as a number keeps its leading zeros only in the format ("000000")
    if number_format and value >= 0 and set(number_format) == {"0"} and len(number_format) > len(text):
        text = text.zfill(len(number_format))
    return text


def _cell_text(cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        if cell.data_type == "e":
            return UNREADABLE
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        try:
            fmt = cell.number_format
        except Exception:  # noqa: BLE001 - a broken style table must not lose the value
            fmt = None
        return _number_text(value, fmt)
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value).strip()


def _value_text(value) -> str:
    """Header cells (values only)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_text(value, None)
    return str(value).strip()


class _Broken(Exception):
    pass


def _guard(rows: Iterator) -> Iterator:
    """Turn any failure inside openpyxl while reading rows into _Broken (no traceback, no data)."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - corrupt archives fail in many ways
            raise _Broken(type(exc).__name__) from None
        yield row


def _read_xlsx(path: Path, progress: Callable[[int], None] | None) -> RosterRead:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise RosterFileError(path, "reading XLSX needs openpyxl (pip install openpyxl)") from None

    def broken(what: str) -> RosterFileError:
        return RosterFileError(path, f"not a readable XLSX workbook (corrupt or truncated: {what})")

    checker = _Checker(path.name, progress)
    columns: dict[str, str] = {}
    ignored: list[str] = []
    sheets: list[str] = []
    closest: tuple[str, int, list[str]] | None = None
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise RosterFileError(path, f"cannot read: {exc.strerror or type(exc).__name__}") from None
    with fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl's "extension not supported" chatter
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # noqa: BLE001
            raise broken(type(exc).__name__) from None
        try:
            for ws in wb.worksheets:  # hidden and very hidden sheets included
                ws.reset_dimensions()  # trust the rows, not the (often wrong) <dimension>
                try:
                    head = [
                        [_value_text(v) for v in row]
                        for row in _guard(ws.iter_rows(min_row=1, max_row=HEADER_SCAN_ROWS,
                                                       values_only=True))
                    ]
                except _Broken as exc:
                    raise broken(str(exc)) from None
                header, near = _find_header(head)
                if header is None:
                    if near is not None and (closest is None or len(near[1]) > len(closest[2])):
                        closest = (ws.title, near[0], near[1])
                    continue  # not a roster sheet
                header_row = header.index + 1
                missing = [c for c in REQUIRED if c not in header.mapping]
                if missing:
                    raise RosterFileError(path, _missing_required_reason(
                        missing, f"sheet {ws.title!r} row {header_row}"))
                sheets.append(ws.title)
                for canon in CANONICAL:
                    if canon in header.found:
                        columns.setdefault(canon, header.found[canon])
                for name in header.ignored:
                    if name not in ignored:
                        ignored.append(name)
                header_cells = head[header.index]
                width = max(header.mapping.values()) + 1
                header_cells = (header_cells + [""] * width)[:width]
                rows = _guard(ws.iter_rows(min_row=header_row + 1, max_col=width))
                line = header_row
                sheet = ws.title
                order = _column_order(header.mapping)
                try:
                    for row in rows:
                        line += 1
                        checker.add([_cell_text(c) for c in row], line, sheet,
                                    order, header_cells)
                except _Broken as exc:
                    raise broken(str(exc)) from None
        finally:
            try:
                wb.close()
            except Exception:  # noqa: BLE001  # pragma: no cover
                pass
    if not sheets:
        reason = _no_header_reason(None, "row")
        reason = reason.replace("no header row found", "no sheet has a header row", 1)
        if closest is not None:
            title, index, has = closest
            missing = [c for c in REQUIRED if c not in has]
            reason += (f"; the closest is sheet {title!r} row {index + 1}, which has "
                       f"{', '.join(has)} but no {', '.join(missing) or 'second known column'}")
        raise RosterFileError(path, reason)
    checker.finish()
    return RosterRead(
        rows=checker.rows,
        problems=checker.problems,
        columns=columns,
        ignored=ignored,
        sheets=sheets,
        format="XLSX",
    )


# --------------------------------------------------------------------------- estimate


def count_data_rows(path: str | Path) -> int | None:
    """A cheap estimate of the data rows (lines or sheet rows, less one header); None if unknown."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if not head:
                return 0
            try:
                kind = _sniff_kind(path, head)
            except RosterFileError:
                return None
            if kind == "xlsx":
                return _count_xlsx(fh)
            fh.seek(0)
            lines = 0
            last = b""
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                last = chunk
            if last and not last.rstrip(b"\x00").endswith(b"\n"):
                lines += 1
            return max(0, lines - 1)
    except OSError:
        return None


def _count_xlsx(fh) -> int | None:
    try:
        import openpyxl

        fh.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False)
            try:
                sizes = [ws.max_row for ws in wb.worksheets]
            finally:
                wb.close()
    except Exception:  # noqa: BLE001 - an estimate: read_roster reports the real error
        return None
    if any(size is None for size in sizes):
        return None
    return max(0, sum(sizes) - len(sizes))
