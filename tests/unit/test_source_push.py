"""The JSON-lines push source: bearer-token check and all-or-nothing parsing with line numbers."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from leakwatch.errors import ConfigError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from leakwatch.protocols import PushSource, Source
from sources.push import PushJsonLines

TOKEN = "push-token-example-0123456789abcdef"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "push-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def push(token_file) -> PushJsonLines:
    return PushJsonLines(SourceSettings(name="analysts", kind="push", max_bytes=2048,
                                        options={"token_file": str(token_file), "max_items": 3}))


def lines(*objs) -> bytes:
    return b"\n".join(o if isinstance(o, bytes) else json.dumps(o).encode() for o in objs) + b"\n"


# ---------------------------------------------------------------- authorisation

def test_the_right_bearer_token_is_authorised(push):
    assert push.authorised(f"Bearer {TOKEN}") is True
    assert push.authorised(f"bearer {TOKEN}") is True  # the scheme is case-insensitive


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
    "Bearer push-token-example-0123456789abcdeF", "Bearer \u00e9\u00e8\ud800",
])
def test_anything_else_is_refused(push, header):
    assert push.authorised(header) is False


# ---------------------------------------------------------------- parsing

def test_lines_become_items(push):
    b64 = base64.b64encode(b"PK\x03\x04binary").decode()
    body = lines(
        {"id": "ticket-4711", "content": "Ffion Quarrington, pay no 401122"},
        b"",
        {"id": "dump/2", "content_b64": b64, "name": "dump.zip", "url": "https://example.net/d/2",
         "published": "2024-05-01T10:00:00Z"},
    ).replace(b"\n", b"\r\n", 1) + b"   \n"
    first, second = push.parse(body)
    assert first.external_id == "ticket-4711"
    assert first.body == "Ffion Quarrington, pay no 401122".encode()
    assert first.name == "ticket-4711.txt" and first.url is None and first.published is None
    assert second.external_id == "dump/2"
    assert second.body == b"PK\x03\x04binary"
    assert second.name == "dump.zip" and second.url == "https://example.net/d/2"
    assert second.published == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


def test_default_names_are_safe_and_binary_ones_end_in_bin(push):
    (item,) = push.parse(lines({"id": "../../etc/x y", "content_b64": "AAEC"}))
    assert item.name == ".._.._etc_x_y.bin"
    assert "/" not in item.name


def test_a_given_name_loses_its_folders(push):
    (posix, windows) = push.parse(lines({"id": "a", "content": "x", "name": "/tmp/../evil/list.csv"},
                                        {"id": "b", "content": "x", "name": "C:\\Users\\x\\roster.xlsx"}))
    assert posix.name == "list.csv" and windows.name == "roster.xlsx"


def test_a_naive_published_time_is_utc(push):
    (item,) = push.parse(lines({"id": "a", "content": "x", "published": "2024-05-01T10:00:00"}))
    assert item.published == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad, message", [
    (b"{not json", "line 2: not JSON"),
    (b'["id", "content"]', "line 2: expected a JSON object"),
    ({"content": "x"}, "line 2: id: required"),
    ({"id": 7, "content": "x"}, "line 2: id: expected a non-empty string"),
    ({"id": "  ", "content": "x"}, "line 2: id: expected a non-empty string"),
    ({"id": "a\nb", "content": "x"}, "line 2: id: at most"),
    ({"id": "b"}, "line 2: content: required"),
    ({"id": "b", "content": 5}, "line 2: content: expected a string"),
    ({"id": "b", "content": "x", "content_b64": "eA=="}, "line 2: content: give content or content_b64"),
    ({"id": "b", "content_b64": "not*base64"}, "line 2: content_b64: not valid base64"),
    ({"id": "b", "content": "y" * 2049}, "line 2: content: 2049 bytes is over the max_bytes cap"),
    ({"id": "b", "content_b64": base64.b64encode(b"z" * 2100).decode()}, "line 2: content_b64: decodes to more"),
    ({"id": "b", "content": "x", "name": 3}, "line 2: name: expected a string"),
    ({"id": "b", "content": "x", "name": "dir/.."}, "line 2: name: expected a file name"),
    ({"id": "b", "content": "x", "name": "/"}, "line 2: name: expected a file name"),
    ({"id": "b", "content": "x", "url": "javascript:alert(1)"}, "line 2: url: expected an http"),
    ({"id": "b", "content": "x", "url": 1}, "line 2: url: expected a string"),
    ({"id": "b", "content": "x", "published": "yesterday"}, "line 2: published: not an ISO-8601 time"),
    ({"id": "b", "content": "x", "published": 1714557600}, "line 2: published: expected an ISO-8601"),
    ({"id": "a", "content": "again"}, "line 2: id: the same id as line 1"),
    (b"\xff\xfe{}", "line 2: not UTF-8"),
])
def test_a_bad_line_rejects_the_request_naming_line_and_field(push, bad, message):
    body = lines({"id": "a", "content": "fine"}, bad)
    with pytest.raises(ValueError) as err:
        push.parse(body)
    assert str(err.value).startswith(message)


def test_errors_never_quote_the_content(push):
    secret = "Quarrington 401122"
    for bad in ({"id": "a", "content": secret * 200}, {"id": "a", "content": secret, "url": secret},
                f'{{"id": "a", "content": "{secret}"'.encode()):
        with pytest.raises(ValueError) as err:
            push.parse(lines(bad))
        assert "Quarrington" not in str(err.value)


def test_more_than_max_items_is_refused(push):
    ok = lines(*({"id": f"i{n}", "content": "x"} for n in range(3)))
    assert len(push.parse(ok)) == 3
    with pytest.raises(ValueError, match=r"^line 4: more than max_items=3"):
        push.parse(lines(*({"id": f"i{n}", "content": "x"} for n in range(4))))


def test_default_max_items_is_1000(token_file):
    src = PushJsonLines(SourceSettings(name="p", kind="push", options={"token_file": str(token_file)}))
    assert src.max_items == 1000
    assert len(src.parse(lines(*({"id": f"i{n}", "content": "x"} for n in range(1000))))) == 1000
    with pytest.raises(ValueError, match="max_items=1000"):
        src.parse(lines(*({"id": f"i{n}", "content": "x"} for n in range(1001))))


def test_an_empty_body_holds_no_items(push):
    assert push.parse(b"") == [] and push.parse(b"\n\n") == []


# ---------------------------------------------------------------- construction

def test_load_sources_builds_a_push_source(token_file):
    (src,) = load_sources([{"kind": "push", "name": "analysts", "token_file": str(token_file)}])
    assert isinstance(src, PushJsonLines) and isinstance(src, PushSource) and not isinstance(src, Source)
    assert src.kind == "push" and src.authorised(f"Bearer {TOKEN}")
    assert TOKEN not in repr(src)


@pytest.mark.parametrize("options, option", [
    ({}, "token_file"),
    ({"token_file": "/nonexistent/push-token"}, "token_file"),
    ({"max_items": 0}, "max_items"),
    ({"max_items": "10"}, "max_items"),
    ({"tokenfile": "x"}, "tokenfile"),
])
def test_bad_options_are_config_errors_naming_source_and_option(options, option, token_file):
    raw = {"kind": "push", "name": "analysts-push", **options}
    if option != "token_file" and "token_file" not in options:
        raw["token_file"] = str(token_file)
    with pytest.raises(ConfigError) as err:
        load_sources([raw])
    assert "analysts-push" in str(err.value) and f"{option}:" in str(err.value)


def test_a_short_token_is_refused(tmp_path):
    short = tmp_path / "short"
    short.write_text("abc123")
    with pytest.raises(ConfigError, match="token_file: the token is too short"):
        load_sources([{"kind": "push", "name": "analysts-push", "token_file": str(short)}])
