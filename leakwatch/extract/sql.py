"""SQL dumps: each row of an INSERT ... VALUES (...),(...) or a COPY ... FROM stdin block is a record.

Headers come from the statement's column list, else from an earlier CREATE TABLE
of the same table (when the column count matches), else None. Everything outside
those statements is kept as prose lines. All scanning is regex-anchored with
possessive quantifiers, so hostile quoting cannot make it backtrack.
"""

from __future__ import annotations

import re

from .text import Sink

_NAME = r"(?:`[^`\n]{1,256}`|\"[^\"\n]{1,256}\"|\[[^\]\n]{1,256}\]|[\w$]++)"
_QNAME = rf"{_NAME}(?:\s*+\.\s*+{_NAME}){{0,3}}"
_STMT = re.compile(
    rf"""\b(?:
      (?P<ins>INSERT|REPLACE)\s++(?:(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY)\s++)*+(?:INTO\s++)?
          (?P<itab>{_QNAME})\s*+(?:\((?P<icols>[^()]{{0,65536}})\)\s*+)?VALUES\s*+
    | (?P<copy>COPY)\s++(?P<ctab>{_QNAME})\s*+(?:\((?P<ccols>[^()]{{0,65536}})\)\s*+)?FROM\s++stdin\b[^\n]*+\n
    | (?P<create>CREATE)\s++(?:(?:GLOBAL|LOCAL|TEMPORARY|TEMP|UNLOGGED)\s++)*+TABLE\s++
          (?:IF\s++NOT\s++EXISTS\s++)?(?P<ttab>{_QNAME})\s*+\(
    )""",
    re.I | re.X,
)
_LOOKS = re.compile(
    r"^[ \t]*+(?:INSERT[ \t]++(?:IGNORE[ \t]++)?INTO[ \t]|REPLACE[ \t]++INTO[ \t]|COPY[ \t]++\S++[^\n]*?"
    r"\bFROM[ \t]++stdin\b|CREATE[ \t]++TABLE[ \t])",
    re.I | re.M,
)
_LOOKS_LOOSE = re.compile(r"\b(?:INSERT\s++INTO|COPY\s++\S++\s[^\n]*?\bFROM\s++stdin|CREATE\s++TABLE)\b", re.I)

_SQ = r"'(?:[^'\\]++|\\.|'')*+'"
_DQ = r"\"(?:[^\"\\]++|\\.|\"\")*+\""
_ATOM = r"[^\s'\"(),;]++"
_VAL = re.compile(rf"'((?:[^'\\]++|\\.|'')*+)'|({_ATOM})", re.S)
_TUPLE = re.compile(rf"\(\s*+((?:{_SQ}|{_ATOM})(?:\s*+,\s*+(?:{_SQ}|{_ATOM}))*+)?\s*+\)", re.S)
_TOK = re.compile(rf"\s*+(?:(?P<s>{_SQ})|(?P<d>{_DQ})|(?P<o>\()|(?P<c>\))|(?P<m>,)|(?P<a>{_ATOM}))", re.S)
_WS = re.compile(r"\s*+")
_ESC = re.compile(r"\\(.)|''", re.S)
_COPY_ESC = re.compile(r"\\(.)", re.S)
_ESC_MAP = {"n": "\n", "t": "\t", "r": "\r", "0": "\x00", "Z": "\x1a", "b": "\b"}
_CREATE_TOK = re.compile(rf"{_SQ}|{_DQ}|`[^`]*+`|[(),]", re.S)
_COLNAME = re.compile(r"\s*+(`[^`]{1,256}`|\"[^\"]{1,256}\"|\[[^\]]{1,256}\]|[\w$]++)")
_NOT_COLUMNS = frozenset(
    "PRIMARY KEY UNIQUE CONSTRAINT INDEX FOREIGN CHECK FULLTEXT SPATIAL EXCLUDE LIKE PERIOD".split()
)


def looks_sql(sample: str, loose: bool = False) -> bool:
    return bool((_LOOKS_LOOSE if loose else _LOOKS).search(sample))


def _unquote_name(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] + name[-1] in ("``", '""', "[]"):
        return name[1:-1]
    return name


def _table_key(qname: str) -> str:
    parts = re.split(r"\s*\.\s*(?=[`\"\[\w$])", qname.strip())
    return _unquote_name(parts[-1]).lower()


def _column_list(cols: str | None) -> tuple[str, ...] | None:
    if not cols or not cols.strip():
        return None
    return tuple(_unquote_name(c) for c in cols.split(","))


def _unescape(s: str) -> str:
    if "\\" not in s and "''" not in s:
        return s
    return _ESC.sub(lambda m: "'" if m.group(1) is None else _ESC_MAP.get(m.group(1), m.group(1)), s)


class _Lines:
    """Line number at an offset, for offsets that only move forward."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            return self.text.count("\n", 0, pos) + 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _tuple(text: str, pos: int) -> tuple[list[str] | None, int]:
    """Values of the tuple whose "(" is at `pos`, and the offset after its ")"; None if malformed."""
    m = _TUPLE.match(text, pos)
    if m:
        inner = m.group(1)
        vals = []
        if inner:
            for quoted, atom in _VAL.findall(inner):
                if atom:
                    vals.append("" if atom == "NULL" or atom.upper() == "NULL" else atom)
                else:
                    vals.append(_unescape(quoted))
        return vals, m.end()
    # Slow path: nested parentheses (functions), double quotes, charset introducers.
    pos += 1
    depth, cur, vals = 1, [], []
    while True:
        m = _TOK.match(text, pos)
        if not m or m.end() == pos:
            return None, pos
        pos = m.end()
        kind = m.lastgroup
        if kind == "o":
            depth += 1
            cur.append("(")
        elif kind == "c":
            depth -= 1
            if depth == 0:
                vals.append(" ".join(cur))
                return vals, pos
            cur.append(")")
        elif kind == "m":
            if depth == 1:
                vals.append(" ".join(cur))
                cur = []
            else:
                cur.append(",")
        elif kind == "s":
            cur.append(_unescape(m.group("s")[1:-1]))
        elif kind == "d":
            cur.append(m.group("d")[1:-1])
        else:
            a = m.group("a")
            if a.upper() != "NULL" and not (depth == 1 and a.startswith("_") and not cur):
                cur.append(a)


def _create_columns(text: str, pos: int) -> tuple[str, ...] | None:
    """Column names of a CREATE TABLE body starting just after its "(" (bounded scan)."""
    depth, start, defs = 1, pos, []
    for m in _CREATE_TOK.finditer(text, pos, min(len(text), pos + 1_000_000)):
        t = m.group()
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
            if depth == 0:
                defs.append(text[start : m.start()])
                break
        elif t == "," and depth == 1:
            defs.append(text[start : m.start()])
            start = m.end()
    else:
        return None
    cols = []
    for d in defs:
        m = _COLNAME.match(d)
        if m and m.group(1).upper() not in _NOT_COLUMNS:
            cols.append(_unquote_name(m.group(1)))
    return tuple(cols) or None


def _copy_cell(c: str) -> str:
    if c == "\\N":
        return ""
    if "\\" in c:
        return _COPY_ESC.sub(lambda m: _ESC_MAP.get(m.group(1), m.group(1)), c)
    return c


def parse_sql(text: str, sink: Sink) -> None:
    schema: dict[str, tuple[str, ...]] = {}
    tables: dict[str, int] = {}
    lines = _Lines(text)
    n = len(text)
    prose_from = pos = 0

    def prose(a: int, b: int) -> None:
        if b > a:
            chunk = text[a:b]
            if chunk.strip():
                sink.prose_lines(chunk, lines.at(a))

    def table_id(key: str) -> int:
        t = tables.get(key)
        if t is None:
            t = tables[key] = sink.new_table()
        return t

    while not sink.full:
        m = _STMT.search(text, pos)
        if not m:
            break
        if m.group("create"):
            cols = _create_columns(text, m.end())
            if cols:
                schema[_table_key(m.group("ttab"))] = cols
            pos = m.end()
            continue
        prose(prose_from, m.start())
        if m.group("copy"):
            key = _table_key(m.group("ctab"))
            cols = _column_list(m.group("ccols")) or schema.get(key)
            table = table_id(key)
            p = m.end()
            ln = lines.at(p)
            while p < n and not sink.full:
                e = text.find("\n", p)
                if e < 0:
                    e = n
                line = text[p:e]
                if line.rstrip("\r") == "\\.":
                    p = e + 1
                    break
                if line:
                    cells = [_copy_cell(c) for c in line.rstrip("\r").split("\t")]
                    hdr = cols if cols and len(cols) == len(cells) else None
                    sink.row(cells, hdr, table, f"line {ln}")
                p, ln = e + 1, ln + 1
            prose_from = pos = min(p, n)
            continue
        key = _table_key(m.group("itab"))
        named = _column_list(m.group("icols"))
        table = table_id(key)
        p = m.end()
        resume = None  # where to go on after a malformed tuple
        while not sink.full and text.startswith("(", p):
            row_line = lines.at(p)
            vals, q = _tuple(text, p)
            if vals is None:  # malformed: it becomes prose, and what was scanned is not rescanned
                resume = max(q, m.end())
                break
            cols = named or schema.get(key)
            hdr = cols if cols and len(cols) == len(vals) else None
            sink.row(vals, hdr, table, f"line {row_line}")
            p = _WS.match(text, q).end()
            if text.startswith(",", p):
                p = _WS.match(text, p + 1).end()
                continue
            if text.startswith(";", p):
                p += 1
            break
        if resume is None:
            prose_from = pos = max(p, m.end())
        else:
            prose_from, pos = p, resume
    prose(prose_from, n)
