"""The GitHub gists source against a local stand-in of the API, through the real Http client."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from fakes import serve
from fakes.gists import GistsState, gists_app
from leakwatch.errors import ConfigError
from leakwatch.http import Http, SourceError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.github_gists import GistsSource


def source(base: str, **options) -> GistsSource:
    return GistsSource(SourceSettings(name="gists", kind="gists", base_url=base, timeout=5,
                                      max_bytes=4096, options=options))


def http() -> Http:
    return Http(retries=0, backoff_base=0.01)


def day(n: int) -> str:
    return f"2024-05-{n:02d}T10:00:00Z"


async def test_each_file_of_each_gist_becomes_an_item():
    state = GistsState()
    state.add("aa11", day(1), {"staff.csv": "name,pay\nFfion Quarrington,401122\n", "notes.md": "hi\n"},
              description="export from hr")
    state.add("bb22", day(2), {"x.txt": "plain\n"})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    query = state.requests[0]["query"]
    assert query["per_page"] == "100" and "since" not in query
    assert state.requests[0]["headers"]["Accept"] == "application/vnd.github+json"
    by_id = {i.external_id: i for i in poll.items}
    assert set(by_id) == {f"aa11/staff.csv@{day(1)}", f"aa11/notes.md@{day(1)}", f"bb22/x.txt@{day(2)}"}
    staff = by_id[f"aa11/staff.csv@{day(1)}"]
    assert staff.body == b"Description: export from hr\nname,pay\nFfion Quarrington,401122\n"
    assert staff.name == "staff.csv"
    assert staff.url == "https://gist.github.com/aa11"
    assert staff.published == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert by_id[f"bb22/x.txt@{day(2)}"].body == b"plain\n"  # no description, no description line
    assert poll.cursor["since"] == day(2) and poll.cursor["ids"] == ["bb22"]
    assert poll.more is False and poll.wait is None


async def test_next_poll_sends_since_and_etag_and_a_304_means_nothing_new():
    state = GistsState()
    state.add("aa11", day(1), {"a.txt": "a\n"})
    state.add("bb22", day(2), {"b.txt": "b\n"})
    async with serve(gists_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        second = await src.poll(h, json.loads(json.dumps(first.cursor)))
        raw_before = len(state.raw_requests)
        third = await src.poll(h, second.cursor)
    assert state.requests[1]["query"]["since"] == day(2)
    assert second.items == []  # the gist at the since instant was seen already
    assert state.requests[2]["headers"]["If-None-Match"] == second.cursor["etag"]
    assert state.not_modified == 1
    assert third.items == [] and third.cursor == second.cursor
    assert len(state.raw_requests) == raw_before


async def test_an_edited_gist_is_a_new_version():
    state = GistsState()
    state.add("aa11", day(1), {"a.txt": "first\n"})
    async with serve(gists_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.add("aa11", day(3), {"a.txt": "second\n"})
        second = await src.poll(h, first.cursor)
    assert [i.external_id for i in first.items] == [f"aa11/a.txt@{day(1)}"]
    assert [(i.external_id, i.body) for i in second.items] == [(f"aa11/a.txt@{day(3)}", b"second\n")]


async def test_pages_are_followed_one_per_poll_and_since_advances_when_the_pass_ends():
    state = GistsState(page_size=2)
    for n in range(1, 6):
        state.add(f"g{n}", day(n), {"f.txt": f"{n}\n"})
    async with serve(gists_app(state)) as base, http() as h:
        src = source(base)
        polls, cursor = [], None
        for _ in range(3):
            poll = await src.poll(h, cursor)
            polls.append(poll)
            cursor = json.loads(json.dumps(poll.cursor))
    assert [p.more for p in polls] == [True, True, False]
    assert [[i.external_id.split("/")[0] for i in p.items] for p in polls] == [["g5", "g4"], ["g3", "g2"], ["g1"]]
    assert "since" not in polls[0].cursor and "since" not in polls[1].cursor
    assert state.requests[1]["query"]["page"] == "2" and state.requests[2]["query"]["page"] == "3"
    assert polls[2].cursor["since"] == day(5) and "next" not in polls[2].cursor


async def test_max_pages_bounds_a_pass():
    state = GistsState(page_size=2)
    for n in range(1, 6):
        state.add(f"g{n}", day(n), {"f.txt": f"{n}\n"})
    async with serve(gists_app(state)) as base, http() as h:
        src = source(base, max_pages=2)
        first = await src.poll(h, None)
        second = await src.poll(h, first.cursor)
    assert first.more is True and second.more is False
    assert len(state.requests) == 2
    assert second.cursor["since"] == day(5) and "next" not in second.cursor


async def test_a_next_link_to_another_host_is_not_followed(tmp_path):
    token = tmp_path / "gh-token"
    token.write_text("ghp_exampleexampleexample0001\n")
    state = GistsState(page_size=1, next_host="elsewhere.invalid:9")
    state.add("g1", day(1), {"f.txt": "1\n"})
    state.add("g2", day(2), {"f.txt": "2\n"})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base, token_file=str(token)).poll(h, None)
    assert poll.more is False and "next" not in poll.cursor
    assert [i.external_id.split("/")[0] for i in poll.items] == ["g2"]


async def test_token_is_sent_to_the_api_only(tmp_path):
    token = tmp_path / "gh-token"
    token.write_text("ghp_exampleexampleexample0001\n")
    state = GistsState(token="ghp_exampleexampleexample0001")
    state.add("aa11", day(1), {"a.txt": "a\n"})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base, token_file=str(token)).poll(h, None)
    assert len(poll.items) == 1
    assert state.requests[0]["headers"]["Authorization"] == "Bearer ghp_exampleexampleexample0001"
    assert "Authorization" not in state.raw_requests[0]["headers"]


async def test_a_refused_token_is_a_source_error_without_the_token(tmp_path):
    token = tmp_path / "gh-token"
    token.write_text("ghp_wrongwrongwrongwrong0002")
    state = GistsState(token="ghp_exampleexampleexample0001")
    async with serve(gists_app(state)) as base, http() as h:
        with pytest.raises(SourceError) as err:
            await source(base, token_file=str(token)).poll(h, None)
    assert "401" in str(err.value) and "ghp_" not in str(err.value)


async def test_spent_quota_returns_a_wait_until_reset():
    state = GistsState(rate_remaining=0, rate_reset=int(time.time()) + 120)
    state.add("aa11", day(1), {"a.txt": "a\n"})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, {"since": day(1), "ids": []})
    assert poll.items == []
    assert 100 <= poll.wait <= 121
    assert poll.cursor == {"since": day(1), "ids": []}
    assert state.raw_requests == []


async def test_last_request_of_the_quota_is_used_and_then_waits():
    state = GistsState(rate_remaining=1, rate_reset=int(time.time()) + 300)
    state.add("aa11", day(1), {"a.txt": "a\n"})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert [i.external_id for i in poll.items] == [f"aa11/a.txt@{day(1)}"]
    assert 280 <= poll.wait <= 301
    assert poll.cursor["since"] == day(1)


async def test_secondary_limit_with_retry_after_returns_a_wait():
    state = GistsState(secondary_retry_after=45)
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert poll.items == [] and poll.wait == 45


async def test_files_over_max_bytes_are_skipped_by_declared_or_actual_size():
    state = GistsState()
    state.add("aa11", day(1), {"big.txt": "b\n", "lies.txt": "x" * 5000, "ok.txt": "fine\n"},
              sizes={"big.txt": 10_000, "lies.txt": 10})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert [i.name for i in poll.items] == ["ok.txt"]
    assert sorted(r["path"] for r in state.raw_requests) == ["aa11/lies.txt", "aa11/ok.txt"]


async def test_a_truncated_gist_is_read_from_raw_url():
    state = GistsState()
    state.add("aa11", day(1), {"long.txt": "whole text from raw_url\n"}, truncated=True)
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert [i.body for i in poll.items] == [b"whole text from raw_url\n"]


async def test_a_file_deleted_before_its_fetch_is_skipped():
    state = GistsState(raw_missing={"aa11/gone.txt"})
    state.add("aa11", day(1), {"gone.txt": "g\n", "here.txt": "h\n"})
    async with serve(gists_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert [i.name for i in poll.items] == ["here.txt"]


@pytest.mark.parametrize("options, option", [
    ({"token_file": "/nonexistent/gh-token"}, "token_file"),
    ({"max_pages": 0}, "max_pages"),
    ({"max_pages": "30"}, "max_pages"),
    ({"per_pages": 3}, "per_pages"),
])
def test_bad_options_are_config_errors_naming_source_and_option(options, option):
    with pytest.raises(ConfigError) as err:
        load_sources([{"kind": "gists", "name": "gists-public", **options}])
    assert "gists-public" in str(err.value) and f"{option}:" in str(err.value)


def test_an_empty_token_file_is_a_config_error(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="token_file: file is empty"):
        load_sources([{"kind": "gists", "name": "gists-public", "token_file": str(empty)}])


def test_load_sources_builds_a_gists_source_with_defaults():
    (src,) = load_sources([{"kind": "gists", "name": "gists-public"}])
    assert isinstance(src, GistsSource)
    assert src.max_pages == 30 and src.token is None and src.base == "https://api.github.com"
