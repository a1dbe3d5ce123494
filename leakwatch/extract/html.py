"""HTML: visible text lines as prose records, each <table> row as a table record.

A small linear-time tokenizer rather than `html.parser`: on this interpreter
(3.11.7) HTMLParser is quadratic or worse on hostile input (10,000 repeats of
"<a " take ~18 s), and leaks are hostile input. Each step here advances with
`str.find` or an anchored regex, so every character is looked at a bounded
number of times. Script and style content is dropped; comments are kept as prose
(commented-out tables are a classic way to leak). Locations are source lines.
"""

from __future__ import annotations

import re
from html import unescape

from .tabular import TableBuilder
from .text import Sink

_NEXT = re.compile(r"<(?:(/?)([A-Za-z][A-Za-z0-9:_.-]*+)|(!--)|(!\[CDATA\[)|[!?])")
_RAW_END = {
    name: re.compile(rf"</{name}\b", re.I) for name in ("script", "style", "textarea", "title", "xmp", "noembed")
}
_DROP = frozenset(("script", "style"))
_BLOCK = frozenset(
    """address article aside blockquote body br caption center dd details dialog dir div dl dt fieldset
    figcaption figure footer form frame h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe legend li
    listing main menu nav noscript ol option p pre section select summary table tbody td tfoot th thead
    title tr ul""".split()
)
_CELL_BREAK = frozenset(("br", "p", "div", "li", "tr", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6"))
_MAX_TABLE_NESTING = 50

_LOOKS = re.compile(
    r"<!doctype\s+html|<(?:html|head|body|table|div|span|p|br|tr|td|th|ul|li|h[1-6]|meta|title|a\s)\b",
    re.I,
)


def looks_html(stripped: str) -> bool:
    """A document that starts with markup and has HTML tags near the top (XML does not count)."""
    if not stripped.startswith("<"):
        return bool(_LOOKS.search(stripped[:2048])) and "<html" in stripped[:2048].lower()
    return bool(_LOOKS.search(stripped[:8192]))


def _squash(s: str) -> str:
    return " ".join(s.split())


class _Table:
    __slots__ = ("builder", "row", "cell", "cell_th", "row_line")

    def __init__(self):
        self.builder: TableBuilder | None = None  # made at the first row: <th> headers or the heuristic
        self.row: list[tuple[str, bool]] | None = None  # [(text, is_th)]
        self.cell: list[str] | None = None
        self.cell_th = False
        self.row_line = 0


class _Extractor:
    def __init__(self, text: str, sink: Sink):
        self.text = text
        self.sink = sink
        self.line_buf: list[str] = []
        self.line_no = 0  # source line where the current visible line began
        self.tables: list[_Table] = []
        self._cpos = 0  # newline counting cache: line number at offset _cpos
        self._cline = 1

    def line_at(self, pos: int) -> int:
        if pos >= self._cpos:
            self._cline += self.text.count("\n", self._cpos, pos)
        else:  # not expected: positions only move forward
            self._cline = self.text.count("\n", 0, pos) + 1
        self._cpos = pos
        return self._cline

    # -- visible text
    def data(self, s: str, pos: int) -> None:
        if not s:
            return
        if "&" in s:
            s = unescape(s)
        t = self.tables[-1] if self.tables else None
        if t is not None and t.cell is not None:
            t.cell.append(s)
            return
        if t is not None and not s.strip():
            return  # whitespace between table tags
        if not self.line_buf:
            if not s.strip():
                return
            self.line_no = self.line_at(pos)
        self.line_buf.append(s)

    def brk(self) -> None:
        if self.line_buf:
            line = _squash("".join(self.line_buf))
            self.line_buf = []
            if line:
                self.sink.prose(line, f"line {self.line_no}")

    # -- tables
    def end_cell(self, t: _Table) -> None:
        if t.cell is not None:
            if t.row is None:
                t.row = []
                t.row_line = t.row_line or self._cline
            t.row.append((_squash("".join(t.cell)), t.cell_th))
            t.cell = None

    def end_row(self, t: _Table) -> None:
        self.end_cell(t)
        row, t.row = t.row, None
        if row is None or not any(c for c, _ in row):
            return
        if t.builder is None:
            t.builder = TableBuilder(self.sink)
            if all(th for _, th in row):
                t.builder.set_headers(tuple(c for c, _ in row))
                return
        cells = [c for c, _ in row]
        while cells and not cells[-1]:
            cells.pop()
        t.builder.add(f"line {t.row_line}", cells)

    def end_table(self) -> None:
        t = self.tables.pop()
        self.end_row(t)
        if t.builder is not None:
            t.builder.finish()

    def tag(self, closing: bool, name: str, pos: int) -> None:
        t = self.tables[-1] if self.tables else None
        if name == "table":
            if closing:
                if t is not None:
                    self.end_table()
            elif len(self.tables) < _MAX_TABLE_NESTING:
                self.brk()
                self.tables.append(_Table())
            return
        if t is not None:
            if name == "tr":
                self.end_row(t)
                if not closing:
                    t.row = []
                    t.row_line = self.line_at(pos)
                return
            if name in ("td", "th"):
                self.end_cell(t)
                if not closing:
                    if t.row is None:
                        t.row = []
                        t.row_line = self.line_at(pos)
                    t.cell = []
                    t.cell_th = name == "th"
                return
            if t.cell is not None:
                if name in _CELL_BREAK:
                    t.cell.append(" ")
                return
        if name in _BLOCK:
            self.brk()

    def run(self) -> None:
        text, n, sink, tables = self.text, len(self.text), self.sink, self.tables
        search, find = _NEXT.search, text.find
        pos = 0
        while pos < n:
            m = search(text, pos)  # the next "<" that can start markup; a lone "<" is text
            if m is None:
                self.data(text[pos:], pos)
                break
            lt = m.start()
            if lt > pos:
                t = tables[-1] if tables else None
                if t is not None and t.cell is not None:
                    s = text[pos:lt]
                    t.cell.append(unescape(s) if "&" in s else s)
                elif t is None or not text[pos:lt].isspace():
                    self.data(text[pos:lt], pos)
            name = m.group(2)
            if name is not None:  # a start or end tag
                gt = find(">", m.end())
                if gt < 0:  # an unterminated tag swallows the rest, as in browsers
                    break
                pos = gt + 1
                name = name.lower()
                closing = m.group(1) == "/"
                self.tag(closing, name, lt)
                if not closing and name in _RAW_END:
                    em = _RAW_END[name].search(text, pos)
                    end = em.start() if em else n
                    if name not in _DROP:
                        self.data(text[pos:end], pos)
                        if name == "title":
                            self.brk()
                    if em is None:
                        break
                    gt = find(">", em.end())
                    pos = gt + 1 if gt >= 0 else n
                if sink.full:
                    break
            elif m.group(3):  # <!-- comment -->
                end = find("-->", lt + 4)
                body = text[lt + 4 : end if end >= 0 else n]
                self.brk()
                if body.strip() and not tables:
                    sink.prose_lines(unescape(body) if "&" in body else body, self.line_at(lt))
                pos = end + 3 if end >= 0 else n
            elif m.group(4):  # <![CDATA[ ... ]]>
                end = find("]]>", lt + 9)
                self.data(text[lt + 9 : end if end >= 0 else n], lt)
                pos = end + 3 if end >= 0 else n
            else:  # doctype, processing instruction, bogus comment
                gt = find(">", lt)
                if gt < 0:
                    break
                pos = gt + 1
        while tables:
            self.end_table()
        self.brk()


def parse_html(text: str, sink: Sink) -> None:
    _Extractor(text, sink).run()
