"""The RSS/Atom feed source against local feeds and pages, through the real Http client."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from fakes import serve
from fakes.feeds import Entry, FeedsState, Page, feeds_app
from fakes.foi import xlsx_with_hidden_sheet
from leakwatch.errors import ConfigError
from leakwatch.extract import extract_bytes
from leakwatch.http import Http, RateLimited, SourceError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.feeds import LINK_TRIES, FeedSource, link_allowed, remember

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


def source(base: str, *paths: str, **options) -> FeedSource:
    options.setdefault("urls", [base + p for p in paths])
    return FeedSource(SourceSettings(name="news", kind="feed", timeout=5, max_bytes=256 * 1024, options=options))


def http() -> Http:
    return Http(retries=0, backoff_base=0.01)


@pytest.fixture
def logged():
    """Records logged by the sources (the handler sits on the logger: "leakwatch" may not propagate)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("leakwatch.sources")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def roundtrip(cursor):
    return json.loads(json.dumps(cursor))  # the pipeline stores it as JSON


def rss_state() -> FeedsState:
    state = FeedsState()
    state.rss = [
        Entry("guid-0001", "Staff list posted for Northbridge force", "<p>A <b>list</b> was posted</p>",
              "/pages/post1.html", T0),
        Entry("guid-0002", "Spreadsheet dump", "<p>csv attached</p>", "/pages/staff.csv", T0 + timedelta(hours=1)),
        Entry("guid-0003", "Workbook dump", "<p>xlsx</p>", "/pages/roster-dump", T0 + timedelta(hours=2)),
    ]
    state.pages = {
        "post1.html": Page(b"<html><body><p>Quillan Marsh-Everby, PC 40921</p></body></html>", "text/html"),
        "staff.csv": Page(b"surname,forename,pay no\nEverby,Quillan,40921\n", "text/csv"),
        "roster-dump": Page(xlsx_with_hidden_sheet(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    }
    return state


async def test_rss_entries_become_documents_with_linked_pages_oldest_first():
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/rss.xml").poll(h, None)
    ids = [i.external_id for i in poll.items]
    # Non-URI guids are qualified by the feed's URL and hashed; the linked CSV and XLSX are their own items.
    assert len(ids) == 5 and len(set(ids)) == 5
    first = poll.items[0]
    assert first.name == "entry.html"
    assert b"Staff list posted for Northbridge force" in first.body
    assert b"<b>list</b> was posted" in first.body
    assert b"Quillan Marsh-Everby, PC 40921" in first.body  # the HTML page appended to the entry
    assert [r.text for d in extract_bytes(first.body, first.name) for r in d.records] == [
        "Staff list posted for Northbridge force", "A list was posted", "Quillan Marsh-Everby, PC 40921"]
    assert first.url == f"{base}/pages/post1.html"
    assert first.published == T0
    assert ids[2] == ids[1] + "#link" and ids[4] == ids[3] + "#link"
    csv_item = next(i for i in poll.items if i.name == "staff.csv")
    assert csv_item.external_id.endswith("#link")
    assert csv_item.body == state.pages["staff.csv"].body
    assert [d.kind for d in extract_bytes(csv_item.body, csv_item.name)] == ["csv"]
    xlsx_item = next(i for i in poll.items if i.external_id.endswith("#link") and i is not csv_item)
    assert xlsx_item.name == "roster-dump.xlsx"  # extension from the content type
    texts = [r.text for d in extract_bytes(xlsx_item.body, xlsx_item.name) for r in d.records]
    assert any("Tamsin" in t for t in texts)  # the hidden sheet is read
    assert poll.more is False and poll.wait is None
    # The entry documents never put the title outside the body.
    for item in poll.items:
        assert "Staff list" not in (item.name + item.external_id + (item.url or ""))


async def test_atom_text_entry_with_text_page_is_one_text_document():
    state = FeedsState()
    state.atom = [Entry("tag:feeds.example,2024:entry/77", "Dump of credentials", "plain summary line",
                        "/pages/dump.txt", T0, html=False)]
    state.pages = {"dump.txt": Page(b"user1@force.example.police.uk:hunter22\n", "text/plain; charset=utf-8")}
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/atom.xml").poll(h, None)
    assert len(poll.items) == 1
    item = poll.items[0]
    assert item.external_id == "tag:feeds.example,2024:entry/77"  # a URI id is kept as it is
    assert item.name == "entry.txt"
    assert item.body == b"Dump of credentials\n\nplain summary line\n\nuser1@force.example.police.uk:hunter22\n"


async def test_html_entry_with_a_text_page_keeps_each_pasted_line_a_record():
    state = FeedsState()
    state.rss = [Entry("guid-0100", "Paste: staff list", "<p>Found on a <b>paste site</b></p><p>second para</p>",
                       "/pages/paste", T0)]
    lines = [f"Surname{n} Forename{n} {40000 + n}" for n in range(30)]
    state.pages = {"paste": Page("\n".join(lines).encode(), "text/plain; charset=utf-8")}
    async with serve(feeds_app(state)) as base, http() as h:
        (item,) = (await source(base, "/rss.xml").poll(h, None)).items
    assert item.name == "entry.txt"
    (doc,) = list(extract_bytes(item.body, item.name))
    texts = [r.text for r in doc.records]
    assert texts[:3] == ["Paste: staff list", "Found on a paste site", "second para"]
    assert texts[-30:] == lines  # one record per pasted line, not one run-together record


async def test_text_entry_with_an_html_page_keeps_its_lines():
    state = FeedsState()
    state.atom = [Entry("tag:feeds.example,2024:entry/5", "Title line", "summary one\nsummary two", "/pages/p.html",
                        T0, html=False)]
    state.pages = {"p.html": Page(b"<html><body><p>Page para</p></body></html>", "text/html")}
    async with serve(feeds_app(state)) as base, http() as h:
        (item,) = (await source(base, "/atom.xml").poll(h, None)).items
    assert item.name == "entry.html"
    (doc,) = list(extract_bytes(item.body, item.name))
    assert [r.text for r in doc.records] == ["Title line", "summary one", "summary two", "Page para"]


async def test_text_page_is_read_in_its_declared_charset():
    state = FeedsState()
    state.atom = [Entry("tag:feeds.example,2024:entry/6", "T", "s", "/pages/p.txt", T0, html=False)]
    state.pages = {"p.txt": Page("Zoë Ashby-Lund £40918\n".encode("cp1252"), "text/plain; charset=windows-1252")}
    async with serve(feeds_app(state)) as base, http() as h:
        (item,) = (await source(base, "/atom.xml").poll(h, None)).items
    assert item.body.decode("utf-8").endswith("Zoë Ashby-Lund £40918\n")


async def test_an_entry_listed_by_two_feeds_is_one_document():
    state = FeedsState()
    shared = Entry("tag:feeds.example,2024:entry/9", "Same story", "s", "/pages/none", T0, html=False)
    state.atom = [shared]
    state.rss = [shared]
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/rss.xml", "/atom.xml", fetch_links=False).poll(h, None)
    assert [i.external_id for i in poll.items] == ["tag:feeds.example,2024:entry/9"]


async def test_validators_are_sent_and_304_means_nothing_new():
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/rss.xml")
        first = await src.poll(h, None)
        state.requests.clear()
        second = await src.poll(h, roundtrip(first.cursor))
    assert first.items and second.items == []
    feed_req = [r for r in state.requests if r.path == "/rss.xml"]
    assert len(feed_req) == 1 and feed_req[0].if_none_match and feed_req[0].if_modified_since
    assert state.not_modified == 1
    assert [r for r in state.requests if r.path.startswith("/pages/")] == []
    assert second.cursor == first.cursor


async def test_last_modified_alone_is_honoured():
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/rss.xml")
        first = await src.poll(h, None)
        cursor = roundtrip(first.cursor)
        for s in cursor["feeds"].values():
            s["etag"] = None
        state.requests.clear()
        second = await src.poll(h, cursor)
    assert second.items == [] and state.not_modified == 1
    assert state.requests[0].if_none_match is None and state.requests[0].if_modified_since


async def test_only_new_entries_after_the_feed_changes_even_when_validators_are_ignored():
    state = rss_state()
    state.ignore_validators = True
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/rss.xml")
        first = await src.poll(h, None)
        state.rss.append(Entry("guid-0004", "Another post", "<p>new</p>", "/pages/post4.html", T0 + timedelta(days=1)))
        state.pages["post4.html"] = Page(b"<p>fresh page</p>", "text/html")
        state.requests.clear()
        second = await src.poll(h, roundtrip(first.cursor))
        third = await src.poll(h, roundtrip(second.cursor))
    assert len(second.items) == 1 and b"fresh page" in second.items[0].body
    assert [r.path for r in state.requests] == ["/rss.xml", "/pages/post4.html", "/rss.xml"]
    assert third.items == []


async def test_cursor_holds_no_entry_ids_or_titles():
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/rss.xml").poll(h, None)
    text = json.dumps(poll.cursor)
    assert "guid-0001" not in text and "Staff list" not in text
    (feed_state,) = poll.cursor["feeds"].values()
    assert len(feed_state["seen"]) == 3


async def test_garbage_feed_fails_alone_and_the_good_feed_still_delivers(logged):
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/garbage", "/rss.xml")
        poll = await src.poll(h, None)
    assert len(poll.items) == 5
    host = base.removeprefix("http://")
    assert [(r.getMessage(), r.fields["host"]) for r in logged] == [("feed_failed", host)]
    assert "not an RSS or Atom feed" in logged[0].fields["error"]


async def test_garbage_feed_alone_is_a_source_error_naming_the_host():
    state = FeedsState()
    async with serve(feeds_app(state)) as base, http() as h:
        host = base.removeprefix("http://")
        with pytest.raises(SourceError, match=rf"{host}: not an RSS or Atom feed"):
            await source(base, "/garbage").poll(h, None)


async def test_every_feed_failing_raises_with_each_reason():
    state = FeedsState()
    state.feed_status = 500
    async with serve(feeds_app(state)) as base, http() as h:
        with pytest.raises(SourceError) as err:
            await source(base, "/garbage", "/rss.xml").poll(h, None)
    assert "all 2 feeds failed" in str(err.value)
    assert "not an RSS or Atom feed" in str(err.value) and "HTTP 500" in str(err.value)


async def test_every_feed_rate_limited_is_rate_limited():
    state = FeedsState()
    state.feed_status = 429
    async with serve(feeds_app(state)) as base, http() as h:
        with pytest.raises(RateLimited):
            await source(base, "/rss.xml", "/atom.xml").poll(h, None)


async def test_a_feed_body_naming_a_local_file_is_not_opened(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_text("<rss version='2.0'><channel><item><title>local file</title></item></channel></rss>")
    state = FeedsState()
    state.garbage = str(secret).encode()  # feedparser given a str would open this path
    async with serve(feeds_app(state)) as base, http() as h:
        with pytest.raises(SourceError, match="not an RSS or Atom feed"):
            await source(base, "/garbage").poll(h, None)


async def test_fetch_links_false_fetches_no_page():
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/rss.xml", fetch_links=False).poll(h, None)
    assert len(poll.items) == 3
    assert [r.path for r in state.requests] == ["/rss.xml"]
    assert b"Quillan" not in poll.items[0].body


async def test_page_failing_with_5xx_holds_the_entry_back_until_it_answers():
    state = FeedsState()
    state.rss = [Entry("guid-9", "Post", "<p>s</p>", "/pages/slow.html", T0)]
    state.pages = {"slow.html": Page(b"<p>Quillan Everby 40921</p>", "text/html", fail_first=1)}
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/rss.xml")
        first = await src.poll(h, None)
        second = await src.poll(h, roundtrip(first.cursor))
    assert first.items == []  # not stored without its page: the same external id could not carry it later
    (feed_state,) = first.cursor["feeds"].values()
    assert feed_state["etag"] is None and feed_state["seen"] == []  # the full feed is asked for again
    assert len(second.items) == 1 and b"Quillan Everby 40921" in second.items[0].body


async def test_page_failing_every_time_gives_up_after_link_tries_keeping_the_entry():
    state = FeedsState()
    state.rss = [Entry("guid-9", "Post title", "<p>s</p>", "/pages/down.html", T0)]
    state.pages = {"down.html": Page(b"never", "text/html", fail_first=1000)}
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/rss.xml")
        cursor, got = None, []
        for _ in range(LINK_TRIES):
            poll = await src.poll(h, cursor)
            got.append(len(poll.items))
            cursor = roundtrip(poll.cursor)
        after = await src.poll(h, cursor)
    assert got == [0] * (LINK_TRIES - 1) + [1]
    assert after.items == []
    assert state.page_requests("down.html") == LINK_TRIES


async def test_page_not_found_keeps_the_entry_without_it():
    state = FeedsState()
    state.rss = [Entry("guid-9", "Post title", "<p>s</p>", "/pages/missing.html", T0)]
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/rss.xml").poll(h, None)
    assert len(poll.items) == 1 and b"Post title" in poll.items[0].body


async def test_page_over_max_bytes_is_skipped_and_the_entry_kept():
    state = FeedsState()
    state.rss = [Entry("guid-9", "Post title", "<p>s</p>", "/pages/big.txt", T0)]
    state.pages = {"big.txt": Page(b"x" * 400_000, "text/plain")}
    async with serve(feeds_app(state)) as base, http() as h:
        poll = await source(base, "/rss.xml").poll(h, None)
    assert len(poll.items) == 1 and len(poll.items[0].body) < 1000


async def test_max_entries_defers_the_rest_and_asks_to_poll_again():
    state = rss_state()
    async with serve(feeds_app(state)) as base, http() as h:
        src = source(base, "/rss.xml", max_entries=2)
        first = await src.poll(h, None)
        second = await src.poll(h, roundtrip(first.cursor))
    assert first.more is True and second.more is False
    first_entries = [i for i in first.items if not i.external_id.endswith("#link")]
    second_entries = [i for i in second.items if not i.external_id.endswith("#link")]
    assert len(first_entries) == 2 and len(second_entries) == 1
    assert first_entries[0].published < first_entries[1].published < second_entries[0].published


def test_links_into_private_networks_only_from_feeds_inside_them():
    assert link_allowed("https://news.example/a", "https://feeds.example/rss")
    assert not link_allowed("http://127.0.0.1:8080/admin", "https://feeds.example/rss")
    assert not link_allowed("http://169.254.169.254/latest/meta-data", "https://feeds.example/rss")
    assert not link_allowed("http://10.1.2.3/", "https://feeds.example/rss")
    assert not link_allowed("http://localhost/", "https://feeds.example/rss")
    assert not link_allowed("file:///etc/passwd", "https://feeds.example/rss")
    assert link_allowed("http://127.0.0.1:9000/page", "http://127.0.0.1:9000/rss.xml")


def test_seen_list_is_bounded_but_keeps_every_entry_the_feed_still_lists():
    current = [f"c{i}" for i in range(600)]
    kept = remember([f"old{i}" for i in range(100)], current, set(current) | {"old0"}, limit=500)
    assert kept == current  # more than the bound: all current kept, no old ones
    kept = remember(["old0", "old1"], ["c1"], {"c1", "old0", "old1"}, limit=2)
    assert kept == ["c1", "old0"]


def test_base_url_is_the_feed_when_no_urls():
    src = FeedSource(SourceSettings(name="one", kind="feed", base_url="https://feeds.example/rss.xml"))
    assert src.urls == ["https://feeds.example/rss.xml"] and src.fetch_links is True


@pytest.mark.parametrize("raw, option", [
    ({}, "urls"),
    ({"urls": []}, "urls"),
    ({"urls": ["/relative.xml"]}, "urls"),
    ({"urls": ["https://feeds.example/a"], "fetch_links": "yes"}, "fetch_links"),
    ({"urls": ["https://feeds.example/a"], "max_entries": 0}, "max_entries"),
    ({"urls": ["https://feeds.example/a"], "colour": "blue"}, "colour"),
])
def test_bad_options_are_config_errors_naming_source_and_option(raw, option):
    with pytest.raises(ConfigError) as err:
        load_sources([{"kind": "feed", "name": "breach-news", **raw}])
    assert "breach-news" in str(err.value) and f"{option}:" in str(err.value)
