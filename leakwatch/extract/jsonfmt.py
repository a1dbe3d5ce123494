"""JSON and NDJSON: each object becomes a record (keys as headers, scalar values as cells).

A top-level array (and arrays directly under a top-level object) are decoded one
element at a time, so a truncated or 60 MB array still yields every complete
element and memory holds one element's objects at a time, not the whole tree.
"""

from __future__ import annotations

import json
import re

from .text import Sink, split_lines

_DEC = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_MAX_DEPTH = 64

_SCALARS = (str, int, float, bool, type(None))


def looks_json(stripped: str) -> bool:
    """Starts like a JSON array or object (not like `[INFO] ...` or `{name}`)."""
    if not stripped or stripped[0] not in "[{":
        return False
    m = _WS.match(stripped, 1)
    nxt = stripped[m.end() : m.end() + 1]
    if stripped[0] == "{":
        return nxt in ('"', "}")
    return nxt != "" and nxt in '{["-0123456789tfn]'


def looks_ndjson(stripped: str) -> bool:
    """Two or more lines that each parse as a JSON object or array on their own (most of the sample)."""
    lines = [ln for ln in split_lines(stripped[:65536]) if ln.strip()]
    if len(stripped) >= 65536 and lines:
        lines.pop()
    lines = lines[:20]
    if len(lines) < 2:
        return False
    ok = 0
    for ln in lines:
        s = ln.strip()
        if s[:1] not in "[{":
            continue
        try:
            v = json.loads(s)
        except (ValueError, RecursionError):
            continue
        ok += isinstance(v, (dict, list))
    return ok >= 2 and ok >= 0.6 * len(lines)


def _scalar(v) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return v if isinstance(v, str) else str(v)


def _has_containers(lst: list) -> bool:
    return any(type(x) in (dict, list) for x in lst)


def _flat(v) -> str | None:
    """A cell for a scalar or a list of scalars; None for anything else."""
    if isinstance(v, _SCALARS):
        return _scalar(v)
    if type(v) is list and v and not _has_containers(v):
        return "; ".join(_scalar(x) for x in v)
    return None


def _seg(key: str, idx: int) -> str:
    """Path segment for an object key: `.name` for plain identifiers, `[#2]` (position) otherwise."""
    return f".{key}" if _IDENT.fullmatch(key) else f"[#{idx}]"


class _Walker:
    def __init__(self, sink: Sink):
        self.sink = sink
        self.tables: dict[str, int] = {}
        self.emitted = 0

    @staticmethod
    def where(root: str, suffix: str) -> str:
        if not suffix:
            return root
        return "$" + suffix if root == "$" else f"{root} ${suffix}"

    def table(self, key: str) -> int:
        t = self.tables.get(key)
        if t is None:
            t = self.tables[key] = self.sink.new_table()
        return t

    def record(self, d: dict, root: str, suffix: str, key: str) -> None:
        """The object's scalars (and lists of scalars, and those one level down) as one record."""
        headers: list[str] = []
        cells: list[str] = []
        for k, v in d.items():
            t = type(v)
            if t is str:
                headers.append(k)
                cells.append(v)
            elif t is dict:
                for kk, vv in v.items():
                    c = _flat(vv)
                    if c is not None:
                        headers.append(f"{k}.{kk}")
                        cells.append(c)
            else:
                c = _flat(v)
                if c is not None:
                    headers.append(k)
                    cells.append(c)
        if cells:
            self.emitted += 1
            self.sink.row(cells, tuple(headers), self.table(root[:4] + key), self.where(root, suffix))

    def children(self, d: dict, root: str, suffix: str, key: str, depth: int) -> None:
        """Walk what `record` did not flatten: containers below the first level."""
        for i, (k, v) in enumerate(d.items()):
            t = type(v)
            if t is list:
                if _has_containers(v):
                    seg = _seg(k, i)
                    self.walk_list(v, root, suffix + seg, key + seg, depth + 1)
            elif t is dict:
                for j, (kk, vv) in enumerate(v.items()):
                    tt = type(vv)
                    if tt is dict or (tt is list and _has_containers(vv)):
                        seg2 = _seg(k, i) + _seg(kk, j)
                        self.walk(vv, root, suffix + seg2, key + seg2, depth + 2)

    def walk(self, v, root: str, suffix: str, key: str, depth: int = 0) -> None:
        if self.sink.full:
            return
        if depth > _MAX_DEPTH:
            self.sink.prose(json.dumps(v, ensure_ascii=False), self.where(root, suffix))
            return
        if isinstance(v, dict):
            self.record(v, root, suffix, key)
            self.children(v, root, suffix, key, depth)
        elif isinstance(v, list):
            self.walk_list(v, root, suffix, key, depth)
        else:
            s = _scalar(v)
            if s.strip():
                self.emitted += 1
                self.sink.prose(s, self.where(root, suffix))

    def walk_list(self, lst: list, root: str, suffix: str, key: str, depth: int) -> None:
        for i, item in enumerate(lst):
            if self.sink.full:
                return
            self.walk(item, root, f"{suffix}[{i}]", key + "[*]", depth + 1)


class _Stream:
    """Top-level JSON decoded element by element (see module docstring)."""

    def __init__(self, text: str, walker: _Walker):
        self.text = text
        self.w = walker
        self.good = 0  # offset just past the last complete element

    def ws(self, pos: int) -> int:
        return _WS.match(self.text, pos).end()

    def expect(self, pos: int) -> str:
        c = self.text[pos : pos + 1]
        if not c:
            raise ValueError("unexpected end")
        return c

    def array(self, pos: int, suffix: str, key: str, depth: int) -> int:
        text = self.text
        pos = self.ws(pos + 1)
        if self.expect(pos) == "]":
            return pos + 1
        i = 0
        while not self.w.sink.full:
            if text[pos] == "[" and depth < 8:
                pos = self.array(pos, f"{suffix}[{i}]", key + "[*]", depth + 1)
            else:
                v, pos = _DEC.raw_decode(text, pos)
                self.good = pos
                self.w.walk(v, "$", f"{suffix}[{i}]", key + "[*]", depth + 1)
            i += 1
            pos = self.ws(pos)
            c = self.expect(pos)
            if c == "]":
                self.good = pos + 1
                return pos + 1
            if c != ",":
                raise ValueError("expected , or ]")
            pos = self.ws(pos + 1)
            self.expect(pos)
        return len(text)

    def obj(self, pos: int) -> int:
        """A top-level object: its arrays are streamed, everything else decoded whole."""
        text = self.text
        pos = self.ws(pos + 1)
        d: dict = {}
        if self.expect(pos) != "}":
            i = 0
            while not self.w.sink.full:
                k, pos = _DEC.raw_decode(text, pos)
                if not isinstance(k, str):
                    raise ValueError("object key")
                pos = self.ws(pos)
                if self.expect(pos) != ":":
                    raise ValueError("expected :")
                pos = self.ws(pos + 1)
                if self.expect(pos) == "[":
                    seg = _seg(k, i)
                    pos = self.array(pos, seg, seg, 1)
                else:
                    d[k], pos = _DEC.raw_decode(text, pos)
                self.good = pos
                i += 1
                pos = self.ws(pos)
                c = self.expect(pos)
                if c == "}":
                    pos += 1
                    break
                if c != ",":
                    raise ValueError("expected , or }")
                pos = self.ws(pos + 1)
        self.good = pos
        self.w.record(d, "$", "", "")
        self.w.children(d, "$", "", "", 0)
        return pos


def parse_json(text: str, sink: Sink) -> str:
    """Records from a JSON document; returns the kind parsed ('json', or 'text' if it was not JSON)."""
    w = _Walker(sink)
    st = _Stream(text, w)
    start = _WS.match(text, 1 if text.startswith("\ufeff") else 0).end()
    st.good = start
    try:
        c = text[start : start + 1]
        if c == "[":
            end = st.array(start, "", "", 0)
        elif c == "{":
            end = st.obj(start)
        else:
            v, end = _DEC.raw_decode(text, start)
            w.walk(v, "$", "", "")
    except (ValueError, RecursionError, IndexError):
        if not w.emitted and not sink.records:
            sink.prose_lines(text)
            return "text"
        sink.notes.append("malformed or truncated JSON: the rest scanned as text")
        sink.prose_lines(text[st.good :], first_line=text.count("\n", 0, st.good) + 1)
        return "json"
    if sink.full:
        return "json"
    end = _WS.match(text, end).end()
    if end < len(text):  # trailing content (concatenated documents, a footer): keep as text
        sink.prose_lines(text[end:], first_line=text.count("\n", 0, end) + 1)
    return "json"


def parse_ndjson(text: str, sink: Sink) -> str:
    """One JSON value per line (where="line N"); lines that do not parse are kept as prose."""
    w = _Walker(sink)
    mc = sink.max_chars
    for n, line in enumerate(split_lines(text), 1):
        if sink.full:
            break
        s = line.strip()
        if not s:
            continue
        if len(s) <= mc * 4 and s[:1] in "[{":
            try:
                v = json.loads(s)
            except (ValueError, RecursionError):
                pass
            else:
                w.walk(v, f"line {n}", "", "")
                continue
        sink.prose(line, f"line {n}")
    return "ndjson"
