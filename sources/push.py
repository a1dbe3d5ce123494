"""The push endpoint: other tools POST JSON lines to `/push/{name}` instead of being polled.

Each non-blank line is one object:

    {"id": "ticket-4711", "content": "text ..."}                 required: id, and content or content_b64
    {"id": "dump-2", "content_b64": "UEsDB...", "name": "dump.zip",
     "url": "https://example.net/x", "published": "2024-05-01T10:00:00Z"}

A request is all or nothing: one bad line rejects it with `ValueError("line N: field: ...")`
(the web layer answers 400 and stores nothing). The message never quotes the content.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from datetime import datetime, timezone
from pathlib import PurePosixPath, PureWindowsPath
from typing import ClassVar

from leakwatch.models import Item, SourceSettings
from sources._options import number_option, read_secret, unknown_options

_OPTIONS = {"token_file", "max_items"}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ID = 512
MAX_NAME = 255
MAX_URL = 2048


def _printable(text: str) -> bool:
    return text.isprintable()


class PushJsonLines:
    kind: ClassVar[str] = "push"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        if "token_file" not in opts:
            raise ValueError("token_file: required (a file holding the bearer token callers send)")
        self._token = read_secret(opts["token_file"], "token_file", min_length=16).encode()
        self.max_items = number_option(opts, "max_items", 1000, minimum=1, integer=True,
                                       expected="an integer of at least 1")

    def __repr__(self) -> str:  # the token never reaches a log line
        return f"PushJsonLines({self.settings.name!r})"

    def authorised(self, header: str | None) -> bool:
        """True when `header` is `Bearer <token>` (scheme case-insensitive), compared in constant time."""
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = credentials.strip().encode("utf-8", "surrogatepass")
        return hmac.compare_digest(given, self._token)

    def parse(self, body: bytes) -> list[Item]:
        """Items from a JSON-lines body; ValueError naming the line and field on the first bad line."""
        lines = body.split(b"\n")
        items: list[Item] = []
        first_line: dict[str, int] = {}
        for number, raw in enumerate(lines, start=1):
            raw = raw.strip()
            if not raw:
                continue
            if len(items) >= self.max_items:
                raise ValueError(f"line {number}: more than max_items={self.max_items} items in one request")
            item = self._item(number, raw)
            if item.external_id in first_line:
                raise ValueError(f"line {number}: id: the same id as line {first_line[item.external_id]}")
            first_line[item.external_id] = number
            items.append(item)
        return items

    def _item(self, number: int, raw: bytes) -> Item:
        where = f"line {number}"
        cap = self.settings.max_bytes
        # A line holds at most the content (base64: 4/3 of it) plus small fields.
        if len(raw) > cap * 4 // 3 + 64 * 1024:
            raise ValueError(f"{where}: {len(raw)} bytes is over the max_bytes cap ({cap})")
        try:
            text = raw.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{where}: not UTF-8 (byte {exc.start + 1})") from None
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{where}: not JSON ({getattr(exc, 'msg', 'invalid')} at column "
                             f"{getattr(exc, 'colno', '?')})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a JSON object (got {type(obj).__name__})")

        ident = obj.get("id")
        if ident is None:
            raise ValueError(f"{where}: id: required")
        if not isinstance(ident, str) or not ident.strip():
            raise ValueError(f"{where}: id: expected a non-empty string")
        if len(ident) > MAX_ID or not _printable(ident):
            raise ValueError(f"{where}: id: at most {MAX_ID} printable characters")

        has_text, has_b64 = "content" in obj, "content_b64" in obj
        if has_text and has_b64:
            raise ValueError(f"{where}: content: give content or content_b64, not both")
        if has_text:
            if not isinstance(obj["content"], str):
                raise ValueError(f"{where}: content: expected a string")
            content = obj["content"].encode("utf-8", "replace")  # a lone surrogate becomes "?"
            field = "content"
        elif has_b64:
            encoded = obj["content_b64"]
            if not isinstance(encoded, str):
                raise ValueError(f"{where}: content_b64: expected a string")
            if len(encoded) > (cap + 2) // 3 * 4 + 4:
                raise ValueError(f"{where}: content_b64: decodes to more than the max_bytes cap ({cap})")
            try:
                content = base64.b64decode("".join(encoded.split()), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{where}: content_b64: not valid base64") from None
            field = "content_b64"
        else:
            raise ValueError(f"{where}: content: required (or content_b64)")
        if len(content) > cap:
            raise ValueError(f"{where}: {field}: {len(content)} bytes is over the max_bytes cap ({cap})")

        name = obj.get("name")
        if name is None:
            name = (_SAFE.sub("_", ident)[:100] or "item") + (".bin" if has_b64 else ".txt")
        else:
            if not isinstance(name, str):
                raise ValueError(f"{where}: name: expected a string")
            # A file name hint only: drop any folders (both separators) and control characters.
            name = PureWindowsPath(PurePosixPath(name).name).name
            if not name or name in (".", "..") or len(name) > MAX_NAME or not _printable(name):
                raise ValueError(f"{where}: name: expected a file name of at most {MAX_NAME} printable characters")

        url = obj.get("url")
        if url is not None:
            if not isinstance(url, str):
                raise ValueError(f"{where}: url: expected a string")
            if not url.startswith(("https://", "http://")) or len(url) > MAX_URL or not _printable(url) \
                    or " " in url:
                raise ValueError(f"{where}: url: expected an http:// or https:// URL of at most {MAX_URL} characters")

        published = obj.get("published")
        when = None
        if published is not None:
            if not isinstance(published, str):
                raise ValueError(f"{where}: published: expected an ISO-8601 time string")
            try:
                when = datetime.fromisoformat(published)
            except ValueError:
                raise ValueError(f"{where}: published: not an ISO-8601 time") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)

        return Item(external_id=ident, body=content, name=name, url=url, published=when)
