"""CSV / TSV and Markdown tables, and the header-row heuristic shared with XLSX and HTML."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter

from .text import Sink, split_lines

# ---------------------------------------------------------------- header rows

# Words that column headings are made of (never names of people or places).
_VOCAB = frozenset(
    """
    name names surname surnames forename forenames firstname lastname first last middle given
    family full fullname initial initials title titles rank ranks grade role roles position job post
    department dept unit units team teams division div station stations location locations site
    area region district branch section command force org organisation organization office
    pay payroll number no num nr id ids ref reference code codes warrant collar shoulder badge
    staff employee employees officer officers member members person personnel worker
    email mail emails phone tel telephone mobile cell fax address addresses postcode zip street
    town city county country dob date dates birth born start end joined left age gender sex
    status type category categories description desc notes note comment comments remarks
    salary hours contract manager supervisor line vetting level user username login password
    account key value count total amount year month day time shift group class nationality
    ethnicity religion rota pattern sergeant inspector qualification qualifications expiry
    issued service length rate cost budget record records record_id index url link source
    """.split()
)

_WORD = re.compile(r"[a-z]+")


def _value_like(cell: str) -> bool:
    """Looks like a value rather than a heading: mostly digits, an email, a URL."""
    cell = cell[:200]
    if "@" in cell or "://" in cell:
        return True
    digits = sum(ch.isdigit() for ch in cell)
    if not digits:
        return False
    alphas = sum(ch.isalpha() for ch in cell)
    return digits >= alphas


def _label_like(cell: str) -> bool:
    return len(cell) <= 80 and not _value_like(cell) and any(ch.isalpha() for ch in cell) and cell.count(" ") < 8


def _label_row(cells: list[str]) -> bool:
    filled = [c for c in cells if c]
    if len(filled) < 2:
        return False
    if not all(_label_like(c) for c in filled):
        return False
    return len({c.casefold() for c in filled}) == len(filled)


def _evidence(header: list[str], following: list[list[str]]) -> bool:
    """Does what follows `header` read as data under it?"""
    if not following:
        return False
    filled = [(j, h) for j, h in enumerate(header) if h]
    # A heading does not reappear as a value in its own column (a rank or a town does).
    repeat_cap = 1 if len(following) < 10 else 2
    for j, h in filled:
        hf = h.casefold()
        if sum(1 for row in following if j < len(row) and row[j].casefold() == hf) >= repeat_cap:
            return False
    vocab_hits = sum(1 for _, h in filled if any(w in _VOCAB for w in _WORD.findall(h.lower())))
    if vocab_hits >= math.ceil(len(filled) / 2):
        return True
    for j, _ in filled:  # a column of numbers / emails under a word
        col = [row[j] for row in following if j < len(row) and row[j]]
        if col and sum(map(_value_like, col)) >= 0.6 * len(col):
            return True
    return False


def find_header(rows: list[list[str]], scan: int = 30) -> int | None:
    """Index of the header row among `rows` (non-empty rows, in order), or None.

    The candidate is the first row with two or more non-empty cells (rows above it,
    with one cell or none, are a title block). It is a header when its cells read as
    labels (short, distinct, not numbers, emails or URLs) and what follows reads as
    data under them: most headings are column words, or some column under a word
    holds numbers or emails; a heading repeated as a value in its column says no.
    When in doubt: no header (the row stays a data record).
    """
    for i, cells in enumerate(rows[:scan]):
        if sum(1 for c in cells if c) >= 2:
            if _label_row(cells) and _evidence(cells, rows[i + 1 : i + 1 + scan]):
                return i
            return None
    return None


# ---------------------------------------------------------------- CSV / TSV

_DELIMS = ("\t", ",", ";", "|")


def sniff_delimiter(sample: str, hint: str = "") -> str | None:
    """The delimiter that splits most sample lines into one consistent number (>= 2) of fields."""
    all_lines = split_lines(sample[:65536])
    if len(sample) >= 65536 and len(all_lines) > 1:
        all_lines.pop()  # the sample cut the last line short
    lines = [ln[:4096] for ln in all_lines[:200] if ln.strip()][:50]
    need = 1 if hint in ("csv", "tsv") else 2
    if len(lines) < need:
        return None
    best: tuple[float, int, str] | None = None
    for d in _DELIMS:
        if not any(d in ln for ln in lines):
            continue
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=d)]
        except csv.Error:
            continue
        if not counts:
            continue
        k, freq = Counter(counts).most_common(1)[0]
        share = freq / len(counts)
        if k < 2 or share < 0.8:
            continue
        if d in ",;" and k <= 3 and hint != "csv":
            spaces = sum(ln.count(" ") for ln in lines)
            if spaces > 2.5 * k * len(lines):
                continue  # prose with a comma or two a line: cells would be whole phrases
        score = (share, k, d)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None and hint == "tsv":
        return "\t"
    if best is None and hint == "csv":
        return ","
    return best[2] if best else None


class TableBuilder:
    """Rows of one table in order: holds the first rows back until the header is found.

    Rows above the header (a title block) become prose; rows below it table records
    with `headers`; without a header every row is a table record with headers=None.
    A row equal to the header (concatenated exports) is dropped; short rows are
    padded with "" to the header's length.
    """

    LOOKAHEAD = 40

    def __init__(self, sink: Sink):
        self.sink = sink
        self.table = sink.new_table()
        self.head: list[tuple[str, list[str]]] = []
        self.headers: tuple[str, ...] | None = None
        self.decided = False

    def set_headers(self, headers: tuple[str, ...]) -> None:
        """Headers known from the markup (HTML <th>): no heuristic."""
        self.headers = headers
        self.decided = True

    def add(self, where: str, cells: list[str]) -> bool:
        """Add a non-empty row; False once the sink is full."""
        if self.decided:
            return self._emit(where, cells)
        self.head.append((where, cells))
        if len(self.head) >= self.LOOKAHEAD:
            return self.finish()
        return True

    def _emit(self, where: str, cells: list[str]) -> bool:
        headers = self.headers
        if headers is not None:
            n = len(headers)
            if len(cells) < n:
                cells = cells + [""] * (n - len(cells))
            elif len(cells) == n and cells[0] == headers[0] and tuple(cells) == headers:
                return True
        return self.sink.row(cells, headers, self.table, where)

    def finish(self) -> bool:
        if self.decided:
            return not self.sink.full
        self.decided = True
        head, self.head = self.head, []
        idx = find_header([c for _, c in head])
        if idx is not None:
            for where, cells in head[:idx]:
                if not self.sink.prose(" | ".join(c for c in cells if c), where):
                    return False
            self.headers = tuple(head[idx][1])
            head = head[idx + 1 :]
        for where, cells in head:
            if not self._emit(where, cells):
                return False
        return True


def parse_csv(text: str, sink: Sink, delimiter: str) -> None:
    """One record per data row: cells, headers (or None), table, where="line N" (row's first line)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if '"' not in text:  # no quoting anywhere: a row is a line, and str.split is much faster
        _parse_unquoted(text, sink, delimiter)
        return
    max_chars = sink.max_chars
    line_no = 0
    pending: list[tuple[int, str]] = []  # lines fed for the row being parsed

    def feed():
        nonlocal line_no
        for line in io.StringIO(text):
            line_no += 1
            if len(line) > max_chars:  # never hand the csv module a monster line
                sink.prose(line.rstrip("\n"), f"line {line_no}")
                yield "\n"
                continue
            pending.append((line_no, line))
            yield line

    reader = csv.reader(feed(), delimiter=delimiter, skipinitialspace=delimiter in ",;", strict=False)
    tb = TableBuilder(sink)
    while not sink.full:
        pending.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a field over the csv module's size limit, or worse: keep the lines as prose
            for n, line in pending:
                if not sink.prose(line.rstrip("\n"), f"line {n}"):
                    break
            continue
        cells = [c.strip() for c in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if not tb.add(f"line {pending[0][0] if pending else line_no}", cells):
            break
    tb.finish()


def _parse_unquoted(text: str, sink: Sink, delimiter: str) -> None:
    tb = TableBuilder(sink)
    mc = sink.max_chars
    sp_after, sp_before = delimiter + " ", " " + delimiter
    for n, line in enumerate(text.split("\n"), 1):
        if not line or line.isspace():
            continue
        if len(line) > mc:
            if not sink.prose(line, f"line {n}"):
                break
            continue
        cells = line.split(delimiter)
        if sp_after in line or sp_before in line or line[0].isspace() or line[-1].isspace():
            cells = [c.strip() for c in cells]
        while cells and not cells[-1]:
            cells.pop()
        if cells and not tb.add(f"line {n}", cells):
            break
    tb.finish()


# ---------------------------------------------------------------- Markdown tables


def _md_separator(line: str) -> bool:
    s = line.strip()
    return bool(s) and "-" in s and not s.strip("|:- \t") and ("|" in s or s.count("-") >= 3)


_PIPE = re.compile(r"(?<!\\)\|")


def _md_cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in _PIPE.split(s)]


def has_markdown_table(sample: str) -> bool:
    lines = split_lines(sample[:65536])
    for i in range(1, len(lines)):
        if "|" in lines[i - 1] and "-" in lines[i] and "|" in lines[i] and _md_separator(lines[i]):
            return True
    return False


def parse_markdown(text: str, sink: Sink) -> None:
    """Prose lines, plus one table record per row of each pipe table (headers from its first line)."""
    lines = split_lines(text)
    mc = sink.max_chars
    i, n = 0, len(lines)
    while i < n and not sink.full:
        line = lines[i]
        if (
            "|" in line
            and i + 1 < n
            and len(line) <= mc
            and "|" in lines[i + 1]
            and _md_separator(lines[i + 1])
        ):
            headers = tuple(_md_cells(line))
            table = sink.new_table()
            i += 2
            while i < n and "|" in lines[i] and lines[i].strip() and len(lines[i]) <= mc:
                cells = _md_cells(lines[i])
                if len(cells) < len(headers):
                    cells += [""] * (len(headers) - len(cells))
                if any(cells) and not sink.row(cells, headers, table, f"line {i + 1}"):
                    return
                i += 1
            continue
        if line and not line.isspace():
            if not sink.prose(line, f"line {i + 1}"):
                return
        i += 1
