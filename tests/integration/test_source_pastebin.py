"""The Pastebin source against a local stand-in of the scraping API, through the real Http client."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from fakes import serve
from fakes.pastebin import PastebinState, pastebin_app
from leakwatch.errors import ConfigError
from leakwatch.http import Http, SourceError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.pastebin import NOT_READY_TRIES, PastebinSource

T0 = 1_717_000_000


def source(base: str, **options) -> PastebinSource:
    options.setdefault("pace", 0)
    return PastebinSource(SourceSettings(name="pb", kind="pastebin", base_url=base, timeout=5,
                                         max_bytes=4096, options=options))


def http() -> Http:
    return Http(retries=0, backoff_base=0.01)


async def test_first_poll_fetches_every_listed_paste_oldest_first_with_title_in_body():
    state = PastebinState()
    state.add("AbCd1234", T0, "Ffion Quarrington pay no 401122\n", title="staff list q3")
    state.add("ZyXw9876", T0 + 5, "nothing here\n")
    state.add("MnOp5555", T0 + 9, "line\n", title="")
    async with serve(pastebin_app(state)) as base, http() as h:
        poll = await source(base, limit=7).poll(h, None)
    assert state.listing_limits == ["7"]
    assert state.item_requests == ["AbCd1234", "ZyXw9876", "MnOp5555"]
    assert [i.external_id for i in poll.items] == ["AbCd1234", "ZyXw9876", "MnOp5555"]
    first = poll.items[0]
    assert first.body == b"Title: staff list q3\nFfion Quarrington pay no 401122\n"
    assert first.name == "AbCd1234.txt"
    assert first.url == "https://pastebin.com/AbCd1234"
    assert first.published == datetime.fromtimestamp(T0, tz=timezone.utc)
    assert poll.items[1].body == b"nothing here\n"  # no title, no title line
    assert poll.more is False and poll.wait is None


async def test_default_limit_is_100():
    state = PastebinState()
    async with serve(pastebin_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert state.listing_limits == ["100"]
    assert poll.items == []


async def test_next_poll_fetches_only_new_pastes_including_one_at_the_same_second():
    state = PastebinState()
    state.add("Old00001", T0, "a\n")
    state.add("Old00002", T0 + 1, "b\n")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        cursor = json.loads(json.dumps(first.cursor))  # stored as JSON by the pipeline
        state.item_requests.clear()
        state.add("New00003", T0 + 1, "same second\n")
        state.add("New00004", T0 + 2, "later\n")
        second = await src.poll(h, cursor)
        state.item_requests.clear()
        third = await src.poll(h, second.cursor)
    assert [i.external_id for i in first.items] == ["Old00001", "Old00002"]
    assert [i.external_id for i in second.items] == ["New00003", "New00004"]
    assert third.items == [] and state.item_requests == []


async def test_cursor_never_holds_a_title():
    state = PastebinState()
    state.add("Tt000001", T0, "x\n", title="Quarrington warrant list")
    state.not_ready.add("Tt000001")
    async with serve(pastebin_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert "Tt000001" in poll.cursor["pending"]
    assert "Quarrington" not in json.dumps(poll.cursor)


async def test_no_access_listing_raises_a_clear_source_error():
    state = PastebinState(no_access=True)
    async with serve(pastebin_app(state)) as base, http() as h:
        with pytest.raises(SourceError) as err:
            await source(base).poll(h, None)
    assert "refused this IP" in str(err.value) and "whitelisted" in str(err.value)
    assert "192.0.2.10" not in str(err.value)


async def test_no_access_on_an_item_raises_and_makes_no_document():
    state = PastebinState(no_access_items=True)
    state.add("Ip000001", T0, "x\n")
    async with serve(pastebin_app(state)) as base, http() as h:
        with pytest.raises(SourceError, match="refused this IP"):
            await source(base).poll(h, None)
    assert state.item_requests == ["Ip000001"]


async def test_a_listing_that_is_not_json_is_a_source_error():
    state = PastebinState(listing_text="<html>Bad gateway, try later</html>")
    async with serve(pastebin_app(state)) as base, http() as h:
        with pytest.raises(SourceError, match="not a JSON array"):
            await source(base).poll(h, None)


async def test_not_ready_paste_is_retried_next_poll_and_never_a_document():
    state = PastebinState()
    state.add("Nr000001", T0, "pending text\n", title="later")
    state.add("Ok000002", T0 + 1, "ready\n")
    state.not_ready.add("Nr000001")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.not_ready.clear()
        state.item_requests.clear()
        second = await src.poll(h, json.loads(json.dumps(first.cursor)))
        third = await src.poll(h, second.cursor)
    assert [i.external_id for i in first.items] == ["Ok000002"]
    assert all(b"not ready" not in i.body for i in first.items)
    assert first.cursor["pending"]["Nr000001"]["tries"] == 1
    assert state.item_requests == ["Nr000001"]  # only the pending key is fetched again
    assert [i.external_id for i in second.items] == ["Nr000001"]
    assert second.items[0].body == b"Title: later\npending text\n"  # title from the listing
    assert second.cursor["pending"] == {}
    assert third.items == []


async def test_not_ready_paste_is_given_up_after_the_retry_limit():
    state = PastebinState()
    state.add("Nr000009", T0, "never\n")
    state.not_ready.add("Nr000009")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base)
        cursor = None
        for _ in range(NOT_READY_TRIES):
            poll = await src.poll(h, cursor)
            assert poll.items == []
            cursor = poll.cursor
        state.item_requests.clear()
        last = await src.poll(h, cursor)
    assert cursor["pending"] == {}
    assert state.item_requests == [] and last.items == []


async def test_gone_paste_is_skipped_and_not_retried():
    state = PastebinState()
    state.add("Gn000001", T0, "deleted\n")
    state.add("Ok000002", T0 + 1, "kept\n")
    state.gone.add("Gn000001")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.item_requests.clear()
        second = await src.poll(h, first.cursor)
    assert [i.external_id for i in first.items] == ["Ok000002"]
    assert first.cursor["pending"] == {}
    assert second.items == [] and state.item_requests == []


async def test_paste_declared_over_max_bytes_is_not_fetched():
    state = PastebinState()
    state.add("Big00001", T0, "small really\n", size=10_000)
    state.add("Ok000002", T0 + 1, "fine\n")
    async with serve(pastebin_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    assert state.item_requests == ["Ok000002"]
    assert [i.external_id for i in poll.items] == ["Ok000002"]


async def test_paste_whose_body_exceeds_max_bytes_despite_its_declared_size_is_skipped():
    state = PastebinState()
    state.add("Lie00001", T0, "x" * 5000, size=10)
    state.add("Ok000002", T0 + 1, "fine\n")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base)
        poll = await src.poll(h, None)
        state.item_requests.clear()
        again = await src.poll(h, poll.cursor)
    assert [i.external_id for i in poll.items] == ["Ok000002"]
    assert again.items == [] and state.item_requests == []


async def test_failure_mid_poll_keeps_fetched_items_and_retries_the_rest():
    state = PastebinState()
    state.add("Aa000001", T0, "one\n")
    state.add("Bb000002", T0 + 1, "two\n")
    state.add("Cc000003", T0 + 2, "three\n")
    state.fail.add("Bb000002")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.fail.clear()
        state.item_requests.clear()
        second = await src.poll(h, first.cursor)
    assert [i.external_id for i in first.items] == ["Aa000001"]
    assert first.more is True
    assert state.item_requests == ["Bb000002", "Cc000003"]
    assert [i.external_id for i in second.items] == ["Bb000002", "Cc000003"]


async def test_failure_on_the_first_fetch_raises():
    state = PastebinState()
    state.add("Aa000001", T0, "one\n")
    state.fail.add("Aa000001")
    async with serve(pastebin_app(state)) as base, http() as h:
        with pytest.raises(SourceError, match="HTTP 500"):
            await source(base).poll(h, None)


async def test_pace_spaces_item_fetches():
    state = PastebinState()
    for n in range(3):
        state.add(f"Pc00000{n}", T0 + n, "x\n")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base, pace=0.15)
        started = time.monotonic()
        poll = await src.poll(h, None)
        elapsed = time.monotonic() - started
    assert len(poll.items) == 3
    assert elapsed >= 0.3  # two pauses between three fetches


async def test_a_poll_past_its_time_budget_hands_back_what_it_has_and_the_rest_follows():
    """At the courtesy pace a full listing outlasts one poll: it stops, keeps the rest in the cursor."""
    state = PastebinState()
    for n in range(6):
        state.add(f"Bd00000{n}", T0 + n, f"paste {n}\n")
    async with serve(pastebin_app(state)) as base, http() as h:
        src = source(base, pace=0.4, max_poll_seconds=1)
        first = await src.poll(h, None)
        assert first.more and 1 <= len(first.items) < 6
        assert set(first.cursor["pending"]) == {f"Bd00000{n}" for n in range(len(first.items), 6)}
        got = [i.external_id for i in first.items]
        cursor = first.cursor
        while cursor["pending"]:
            nxt = await src.poll(h, cursor)
            got += [i.external_id for i in nxt.items]
            cursor = nxt.cursor
    assert got == [f"Bd00000{n}" for n in range(6)], "every paste once, oldest first"


@pytest.mark.parametrize("options, option", [
    ({"limit": "many"}, "limit"),
    ({"limit": 0}, "limit"),
    ({"limit": 1000}, "limit"),
    ({"pace": -1}, "pace"),
    ({"limt": 10}, "limt"),
])
def test_bad_options_are_config_errors_naming_source_and_option(options, option):
    with pytest.raises(ConfigError) as err:
        load_sources([{"kind": "pastebin", "name": "pb-main", **options}])
    assert "pb-main" in str(err.value) and f"{option}:" in str(err.value)


def test_load_sources_builds_a_pastebin_source_with_defaults():
    (src,) = load_sources([{"kind": "pastebin", "name": "pb-main"}])
    assert isinstance(src, PastebinSource)
    assert src.limit == 100 and src.pace == 1.0 and src.base == "https://scrape.pastebin.com"
