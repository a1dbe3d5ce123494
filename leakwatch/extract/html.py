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

from .tabular import find_header
from .text import Sink

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_.-]*+)")
_MARKUP = re.compile(r"<(?:/?[A-Za-z]|!|\?)")
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
    __slots__ = ("rows", "row", "cell", "cell_th", "row_line")

    def __init__(self):
        self.rows: list[tuple[int, list[tuple[str, bool]]]] = []  # (line, [(text, is_th)])
        self.row: list[tuple[str, bool]] | None = None
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
        if t.row is not None:
            if any(c for c, _ in t.row):
                t.rows.append((t.row_line, t.row))
            t.row = None

    def end_table(self) -> None:
        t = self.tables.pop()
        self.end_row(t)
        if not t.rows:
            return
        table = self.sink.new_table()
        headers = None
        start = 0
        first = t.rows[0][1]
        if all(th for _, th in first):
            headers = tuple(c for c, _ in first)
            start = 1
        else:
            idx = find_header([[c for c, _ in r] for _, r in t.rows])
            if idx is not None:
                for line, r in t.rows[:idx]:
                    self.sink.prose(" | ".join(c for c, _ in r if c), f"line {line}")
                headers = tuple(c for c, _ in t.rows[idx][1])
                start = idx + 1
        for line, r in t.rows[start:]:
            cells = [c for c, _ in r]
            if headers is not None and len(cells) < len(headers):
                cells += [""] * (len(headers) - len(cells))
            if not self.sink.row(cells, headers, table, f"line {line}"):
                return

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
        text, n, sink = self.text, len(self.text), self.sink
        pos = 0
        gt_at, gt_from = -1, -1  # cache of text.find(">", gt_from)

        def next_gt(p: int) -> int:
            nonlocal gt_at, gt_from
            if gt_from != -1 and p >= gt_from and (gt_at == -1 or gt_at >= p):
                return gt_at
            gt_from, gt_at = p, text.find(">", p)
            return gt_at

        while pos < n and not sink.full:
            nm = _MARKUP.search(text, pos)  # a "<" that can start markup; a lone "<" is text
            if nm is None:
                self.data(text[pos:], pos)
                break
            lt = nm.start()
            if lt > pos:
                self.data(text[pos:lt], pos)
            if text.startswith("<!--", lt):
                end = text.find("-->", lt + 4)
                body = text[lt + 4 : end if end >= 0 else n]
                self.brk()
                if body.strip() and not self.tables:
                    start_line = self.line_at(lt)
                    sink.prose_lines(unescape(body) if "&" in body else body, start_line)
                pos = end + 3 if end >= 0 else n
                continue
            if text.startswith("<![CDATA[", lt):
                end = text.find("]]>", lt + 9)
                self.data(text[lt + 9 : end if end >= 0 else n], lt)
                pos = end + 3 if end >= 0 else n
                continue
            c = text[lt + 1 : lt + 2]
            if c in ("!", "?"):  # doctype, processing instruction, bogus comment
                gt = next_gt(lt)
                if gt < 0:
                    break
                pos = gt + 1
                continue
            m = _TAG.match(text, lt)
            if not m:
                self.data("<", lt)
                pos = lt + 1
                continue
            gt = next_gt(m.end())
            if gt < 0:  # an unterminated tag swallows the rest, as in browsers
                break
            closing, name = m.group(1) == "/", m.group(2).lower()
            self.tag(closing, name, lt)
            pos = gt + 1
            if not closing and name in _RAW_END:
                em = _RAW_END[name].search(text, pos)
                end = em.start() if em else n
                if name not in _DROP:
                    self.data(text[pos:end], pos)
                    if name == "title":
                        self.brk()
                if em is None:
                    break
                gt = next_gt(em.end())
                pos = gt + 1 if gt >= 0 else n
        while self.tables:
            self.end_table()
        self.brk()


def parse_html(text: str, sink: Sink) -> None:
    _Extractor(text, sink).run()
