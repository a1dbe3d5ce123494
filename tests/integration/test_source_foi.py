"""The FOI (Alaveteli) source against a local stand-in portal, through the real Http client."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from fakes import serve
from fakes.foi import (
    HIDDEN_STAFF,
    XLSX,
    Attachment,
    Event,
    FoiRequest,
    FoiState,
    Response,
    foi_app,
    xlsx_with_hidden_sheet,
    zip_of,
)
from leakwatch.errors import ConfigError
from leakwatch.extract import extract_bytes
from leakwatch.http import Http, SourceError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.foi import TRIES, FoiSource, attachment_links, attachment_name

T0 = datetime(2024, 8, 8, 14, 0, tzinfo=timezone.utc)
FEED = "/feed/body/example_constabulary"


def source(base: str, max_bytes: int = 512 * 1024, **options) -> FoiSource:
    options.setdefault("feeds", [FEED])
    return FoiSource(SourceSettings(name="wdtk", kind="foi", base_url=base, timeout=5, max_bytes=max_bytes,
                                    options=options))


def http() -> Http:
    return Http(retries=0, backoff_base=0.01)


def roundtrip(cursor):
    return json.loads(json.dumps(cursor))


def portal() -> tuple[FoiState, FoiRequest]:
    req = FoiRequest(4711, "workforce_numbers_by_rank", "Workforce numbers by rank")
    req.responses.append(Response(9001, [
        Attachment(2, "FOI%20Response%20-%20headcount.xlsx", xlsx_with_hidden_sheet(), XLSX),
        Attachment(3, "cover_letter.pdf", b"%PDF-1.4\n% synthetic\n(Cover letter) Tj\n%%EOF\n", "application/pdf"),
    ]))
    state = FoiState()
    state.body_events["example_constabulary"] = [
        Event(101, req, T0 - timedelta(days=20), text="Request sent to Example Constabulary."),
        Event(102, req, T0, incoming_id=9001),
    ]
    return state, req


def names(poll) -> list[str]:
    return [i.name for i in poll.items]


async def test_entries_and_each_attachment_become_documents():
    state, req = portal()
    async with serve(foi_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    host = base.removeprefix("http://").split(":")[0]
    entries = [i for i in poll.items if i.name == "entry.html"]
    assert [i.external_id for i in entries] == [f"tag:{host},2005:InfoRequestEvent/101",
                                                f"tag:{host},2005:InfoRequestEvent/102"]
    assert b"Workforce numbers by rank" in entries[0].body and b"Request sent" in entries[0].body
    assert entries[1].published == T0
    attachments = [i for i in poll.items if i.name != "entry.html"]
    assert [a.name for a in attachments] == ["FOI Response - headcount.xlsx", "cover_letter.pdf"]
    assert attachments[0].external_id == "/request/4711/response/9001/attach/2/FOI%20Response%20-%20headcount.xlsx"
    assert attachments[0].url.startswith(base + attachments[0].external_id)
    assert attachments[0].body == req.responses[0].attachments[0].body
    # Each attachment fetched once (the page is reached from both events); never the HTML renderings.
    assert state.fetched("/attach/2/") == 1 and state.fetched("/attach/html/") == 0


async def test_xlsx_attachment_is_extracted_hidden_sheet_included():
    state, _ = portal()
    async with serve(foi_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    xlsx = next(i for i in poll.items if i.name.endswith(".xlsx"))
    docs = list(extract_bytes(xlsx.body, xlsx.name))
    texts = " ".join(r.text for d in docs for r in d.records)
    assert all(s in texts for _, s, _, _ in HIDDEN_STAFF)
    assert any("Data" in r.where for d in docs for r in d.records)


async def test_links_elsewhere_are_not_followed():
    html = ('<a href="/request/1/response/2/attach/3/a.csv?cookie_passthrough=1">a</a>'
            '<a href="/request/1/response/2/attach/3/a.csv">again</a>'
            '<a href="/request/1/response/2/attach/html/3/a.csv.html">html</a>'
            '<a href="https://other.example/request/1/response/2/attach/4/b.csv">other host</a>'
            '<a href="/r/3f2a/response/2/attach/5/shared.xlsx">shared</a>'
            '<a href="/help/about">about</a>')
    links = attachment_links(html, "https://foi.example/request/x#incoming-2", {"foi.example"})
    assert links == [("https://foi.example/request/1/response/2/attach/3/a.csv?cookie_passthrough=1",
                      "/request/1/response/2/attach/3/a.csv"),
                     ("https://foi.example/r/3f2a/response/2/attach/5/shared.xlsx", "/r/3f2a/response/2/attach/5/shared.xlsx")]
    assert attachment_name("/request/1/response/2/attach/3/staff%20list.csv") == "staff list.csv"
    assert attachment_name("/request/1/response/2/attach/3") == "attachment-3"


async def test_next_poll_fetches_only_new_events_and_new_attachments():
    state, req = portal()
    async with serve(foi_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.requests.clear()
        quiet = await src.poll(h, roundtrip(first.cursor))
        assert quiet.items == [] and state.requests == [FEED]
        # A second response on the same request: only its attachment is new.
        req.responses.append(Response(9002, [Attachment(2, "names.csv", b"surname,initial\nPenhallow,I\n", "text/csv")]))
        state.body_events["example_constabulary"].append(Event(103, req, T0 + timedelta(days=1), incoming_id=9002))
        state.requests.clear()
        second = await src.poll(h, roundtrip(quiet.cursor))
    assert names(second) == ["entry.html", "names.csv"]
    assert state.fetched("/attach/") == 1


async def test_attachment_failing_transiently_is_fetched_on_the_next_poll_only_it():
    state, req = portal()
    req.responses[0].attachments[1].fail_first = 2  # the PDF answers 503 to both events' visits
    async with serve(foi_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.requests.clear()
        second = await src.poll(h, roundtrip(first.cursor))
    assert "cover_letter.pdf" not in names(first) and "FOI Response - headcount.xlsx" in names(first)
    assert [n for n in names(second) if n != "entry.html"] == ["cover_letter.pdf"]
    assert state.fetched("/attach/2/") == 0  # the workbook is not fetched again
    third_cursor = roundtrip(second.cursor)
    assert third_cursor["tries"] == {}


async def test_rate_limit_on_an_attachment_ends_the_poll_with_a_wait_and_the_rest_comes_next():
    state, req = portal()
    req.responses[0].attachments[1].rate_limit_first = 1  # the PDF answers 429, Retry-After: 120
    async with serve(foi_app(state)) as base, http() as h:
        src = source(base)
        first = await src.poll(h, None)
        state.requests.clear()
        second = await src.poll(h, roundtrip(first.cursor))
    assert first.wait == 120 and first.more is False
    assert names(first) == ["entry.html", "FOI Response - headcount.xlsx"]  # event 102 not visited
    assert state.fetched("/attach/2/") == 0
    assert [n for n in names(second) if n != "entry.html"] == ["cover_letter.pdf"]
    assert second.wait is None and len(second.cursor["entries"]) == 2


async def test_request_page_failing_every_time_is_given_up_after_tries():
    state, _ = portal()
    state.page_fail_first = 1000
    async with serve(foi_app(state)) as base, http() as h:
        src = source(base)
        cursor = None
        for _ in range(TRIES):
            poll = await src.poll(h, cursor)
            cursor = roundtrip(poll.cursor)
        state.requests.clear()
        last = await src.poll(h, cursor)
    assert last.items == []
    assert state.requests == [FEED]  # given up: the entries are seen, the page is not asked for again


async def test_attachment_over_max_bytes_is_skipped_and_the_rest_kept():
    state, req = portal()
    req.responses[0].attachments.append(Attachment(4, "huge.csv", b"a,b\n" * 100_000, "text/csv"))
    async with serve(foi_app(state)) as base, http() as h:
        src = source(base, max_bytes=200_000)
        first = await src.poll(h, None)
        second = await src.poll(h, roundtrip(first.cursor))
    assert "huge.csv" not in names(first) and "FOI Response - headcount.xlsx" in names(first)
    assert second.items == []


async def test_zip_attachment_keeps_its_name_for_extraction():
    state, req = portal()
    req.responses[0].attachments = [Attachment(2, "bundle.zip", zip_of({"inner/staff.csv": b"surname\nVell\n"}),
                                               "application/zip")]
    async with serve(foi_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    z = next(i for i in poll.items if i.name == "bundle.zip")
    assert [d.source for d in extract_bytes(z.body, z.name)] == ["bundle.zip!inner/staff.csv"]


async def test_max_attachments_reads_the_rest_on_the_next_poll():
    state, req = portal()
    req.responses[0].attachments += [Attachment(n, f"part{n}.csv", b"x\n", "text/csv") for n in range(4, 10)]
    async with serve(foi_app(state)) as base, http() as h:
        src = source(base, max_attachments=2)
        polls = [await src.poll(h, None)]
        while polls[-1].more and len(polls) < 10:
            polls.append(await src.poll(h, roundtrip(polls[-1].cursor)))
    got = [n for p in polls for n in names(p) if n != "entry.html"]
    assert polls[0].more and not polls[-1].more and len(polls) >= 2
    # At most two new attachments per visit of the request page (two events visit it per poll).
    assert len([n for n in names(polls[0]) if n != "entry.html"]) == 4
    assert sorted(got) == sorted(["FOI Response - headcount.xlsx", "cover_letter.pdf"]
                                 + [f"part{n}.csv" for n in range(4, 10)])
    assert all(state.fetched(f"/attach/{n}/") == 1 for n in range(2, 10))


async def test_garbage_feed_is_a_source_error_naming_the_host():
    state, _ = portal()
    state.garbage_feed = True
    async with serve(foi_app(state)) as base, http() as h:
        with pytest.raises(SourceError, match=base.removeprefix("http://") + ": not an RSS or Atom feed"):
            await source(base).poll(h, None)


async def test_cursor_is_bounded_hashes_only():
    state, _ = portal()
    async with serve(foi_app(state)) as base, http() as h:
        poll = await source(base).poll(h, None)
    text = json.dumps(poll.cursor)
    assert "headcount" not in text and "InfoRequestEvent" not in text
    assert len(poll.cursor["entries"]) == 2 and len(poll.cursor["attachments"]) == 2


def test_feeds_are_joined_to_base_url():
    src = FoiSource(SourceSettings(name="w", kind="foi", base_url="https://foi.example",
                                   options={"feeds": ["/feed/body/a", "feed/search/pay%20numbers",
                                                      "https://foi.example/feed/request/x"]}))
    assert src.feeds == ["https://foi.example/feed/body/a", "https://foi.example/feed/search/pay%20numbers",
                         "https://foi.example/feed/request/x"]


@pytest.mark.parametrize("raw, option", [
    ({}, "feeds"),
    ({"feeds": "  "}, "feeds"),
    ({"feeds": ["/feed/body/a"], "max_attachments": -1}, "max_attachments"),
    ({"feeds": ["/feed/body/a"], "attachments": True}, "attachments"),
])
def test_bad_options_are_config_errors_naming_source_and_option(raw, option):
    with pytest.raises(ConfigError) as err:
        load_sources([{"kind": "foi", "name": "wdtk", **raw}])
    assert "wdtk" in str(err.value) and f"{option}:" in str(err.value)
