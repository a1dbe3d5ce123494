"""The ransomware tracker sources against local stand-ins, through the real Http client."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from fakes import serve
from fakes.ransomware import TrackerState, tracker_app
from leakwatch.errors import ConfigError
from leakwatch.http import Http, RateLimited, SourceError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.ransomware import RansomwareLiveSource, RansomwatchSource, parse_time


def http() -> Http:
    return Http(retries=0, backoff_base=0.01)


def watch(base: str, **options) -> RansomwatchSource:
    return RansomwatchSource(SourceSettings(name="rw", kind="ransomwatch", base_url=base, timeout=5, options=options))


def live(base: str, **options) -> RansomwareLiveSource:
    return RansomwareLiveSource(SourceSettings(name="rl", kind="ransomware_live", base_url=base, timeout=5,
                                               options=options))


def roundtrip(cursor):
    return json.loads(json.dumps(cursor))


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


async def test_first_poll_takes_the_backfill_window_only_oldest_first():
    t = now()
    state = TrackerState()
    state.post("Old Victim Holdings", "blackfin", t - timedelta(days=30))
    state.post("Acme Card Systems Ltd", "blackfin", t - timedelta(days=2))
    state.post("brindlewood-payroll.example", "quietstorm", t - timedelta(hours=1))
    async with serve(tracker_app(state)) as base, http() as h:
        poll = await watch(base).poll(h, None)
    assert [i.body.split(b"\n")[1] for i in poll.items] == [b"victim: Acme Card Systems Ltd",
                                                            b"victim: brindlewood-payroll.example"]
    first = poll.items[0]
    assert first.body == (b"ransomware group: blackfin\nvictim: Acme Card Systems Ltd\n"
                          + f"discovered: {(t - timedelta(days=2)).isoformat()}\n".encode()
                          + b"tracker: ransomwatch\n")
    assert first.published == t - timedelta(days=2)
    assert first.name == "posting.txt" and first.url is None
    # A title that is a domain is also given as the victim's domain.
    assert b"victim domain: brindlewood-payroll.example\n" in poll.items[1].body
    # The external id is stable and says nothing of the victim.
    assert "Acme" not in first.external_id and len(first.external_id) == 32


async def test_backfill_days_option_widens_the_first_poll():
    t = now()
    state = TrackerState()
    state.post("Old Victim Holdings", "blackfin", t - timedelta(days=30))
    async with serve(tracker_app(state)) as base, http() as h:
        assert len((await watch(base, backfill_days=45).poll(h, None)).items) == 1
        assert (await watch(base, backfill_days=0).poll(h, None)).items == []


async def test_next_polls_take_only_new_postings_including_one_at_the_same_instant():
    t = now()
    state = TrackerState()
    state.post("Acme Card Systems Ltd", "blackfin", t - timedelta(hours=3))
    async with serve(tracker_app(state)) as base, http() as h:
        src = watch(base)
        first = await src.poll(h, None)
        state.post("Orbis Data LLC", "blackfin", t - timedelta(hours=3))  # same instant, new title
        state.post("Acme Card Systems Ltd", "quietstorm", t - timedelta(hours=1))  # same title, other group
        state.post("Acme Card Systems Ltd", "blackfin", t - timedelta(hours=1))  # re-listed: not new
        second = await src.poll(h, roundtrip(first.cursor))
        third = await src.poll(h, roundtrip(second.cursor))
    assert len(first.items) == 1
    assert [(i.body.split(b"\n")[0], i.body.split(b"\n")[1]) for i in second.items] == [
        (b"ransomware group: blackfin", b"victim: Orbis Data LLC"),
        (b"ransomware group: quietstorm", b"victim: Acme Card Systems Ltd")]
    assert third.items == []


async def test_late_scraped_posting_a_little_in_the_past_is_taken_an_old_one_is_not():
    t = now()
    state = TrackerState()
    state.post("Newest Victim plc", "blackfin", t)
    async with serve(tracker_app(state)) as base, http() as h:
        src = watch(base)
        first = await src.poll(h, None)
        state.post("Late Scraped Ltd", "blackfin", t - timedelta(hours=5))
        state.post("Ancient History Ltd", "blackfin", t - timedelta(days=3))
        second = await src.poll(h, roundtrip(first.cursor))
    assert [i.body.split(b"\n")[1] for i in second.items] == [b"victim: Late Scraped Ltd"]
    assert parse_time(second.cursor["newest"]) == t


async def test_ransomware_live_posting_carries_its_fields_and_description():
    t = now()
    state = TrackerState()
    state.victim("Acme Card Systems", "blackfin", t - timedelta(hours=2), domain="acmecards.example",
                 description="We took 200GB: staff ID cards, payroll exports.\nMore soon.")
    async with serve(tracker_app(state)) as base, http() as h:
        poll = await live(base).poll(h, None)
    (item,) = poll.items
    lines = item.body.decode().split("\n")
    assert lines[:5] == ["ransomware group: blackfin", "victim: Acme Card Systems",
                         "victim domain: acmecards.example", "country: GB", "sector: Business Services"]
    assert "leak site post: http://blackfinleaks.onion.example/post/1" in lines
    assert "tracker: ransomware.live" in lines
    assert item.body.endswith(b"\nWe took 200GB: staff ID cards, payroll exports.\nMore soon.\n")


async def test_a_field_cannot_forge_another_line():
    t = now()
    state = TrackerState()
    state.victim("Harmless Ltd\nransomware group: forged", "blackfin", t)
    async with serve(tracker_app(state)) as base, http() as h:
        (item,) = (await live(base).poll(h, None)).items
    assert [line for line in item.body.split(b"\n") if line.startswith(b"ransomware group:")] == [
        b"ransomware group: blackfin"]
    assert b"victim: Harmless Ltd ransomware group: forged\n" in item.body


async def test_malformed_and_undated_postings_are_skipped():
    t = now()
    state = TrackerState()
    state.posts = [{"post_title": "", "group_name": "x", "discovered": "2024-01-01 00:00:00.000000"},
                   "not an object", {"post_title": "No Date Ltd", "group_name": "blackfin", "discovered": "soon"},
                   {"post_title": "Good Ltd", "group_name": "blackfin",
                    "discovered": t.strftime("%Y-%m-%d %H:%M:%S.%f")}]
    async with serve(tracker_app(state)) as base, http() as h:
        poll = await watch(base).poll(h, None)
    assert [i.body.split(b"\n")[1] for i in poll.items] == [b"victim: Good Ltd"]


async def test_not_a_json_array_is_a_source_error_naming_the_host():
    state = TrackerState()
    async with serve(tracker_app(state)) as base, http() as h:
        host = base.removeprefix("http://")
        state.raw = b'{"error": "maintenance"}'
        with pytest.raises(SourceError, match=f"{host}: answer is not a JSON array"):
            await live(base).poll(h, None)
        state.raw = b"<html>Cloudflare</html>"
        with pytest.raises(SourceError, match=f"{host}: answer is not JSON"):
            await watch(base).poll(h, None)


async def test_rate_limit_with_a_long_wait_is_rate_limited():
    state = TrackerState(status=429, retry_after="3600")
    async with serve(tracker_app(state)) as base, http() as h:
        with pytest.raises(RateLimited) as err:
            await live(base).poll(h, None)
    assert err.value.retry_after == 3600


async def test_empty_listing_keeps_the_cursor():
    state = TrackerState()
    async with serve(tracker_app(state)) as base, http() as h:
        poll = await watch(base).poll(h, {"newest": "2024-05-01T00:00:00+00:00", "keys": ["k"]})
    assert poll.items == [] and poll.cursor == {"newest": "2024-05-01T00:00:00+00:00", "keys": ["k"]}


def test_tracker_times_are_read_as_utc():
    assert parse_time("2024-05-01 10:00:00.123456") == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert parse_time("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert parse_time("yesterday") is None and parse_time(None) is None


@pytest.mark.parametrize("kind", ["ransomwatch", "ransomware_live"])
@pytest.mark.parametrize("raw, option", [({"backfill_days": -1}, "backfill_days"),
                                         ({"backfill_days": "7"}, "backfill_days"),
                                         ({"groups": ["x"]}, "groups")])
def test_bad_options_are_config_errors_naming_source_and_option(kind, raw, option):
    with pytest.raises(ConfigError) as err:
        load_sources([{"kind": kind, "name": "tracker-1", **raw}])
    assert "tracker-1" in str(err.value) and f"{option}:" in str(err.value)
