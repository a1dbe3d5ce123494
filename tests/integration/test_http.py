"""`leakwatch.http` against a hostile server on loopback (tests/fakes/hostile.py).

No test reaches past 127.0.0.1. Timing assertions are generous upper bounds ("within 10 s" for a
0.5 s timeout) or lower bounds that a sleep guarantees; memory is bounded by the tracemalloc
peak and the sampled RSS growth, each under the cap plus 64 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import time
import tracemalloc
import traceback

import pytest

from leakwatch import __version__
from leakwatch.http import (USER_AGENT, Http, RateLimited, Response, SourceError, TooLarge, backoff, host_of,
                            next_hop, parse_retry_after)
from tests.fakes.hostile import (GiB, KiB, MiB, Hostile, blackhole, bomb, echo, hang, huge_header, lying_length,
                                 raw, redirect, refused_url, respond, sequence, slow, stream_body, trickle)

SLACK = 64 * MiB  # what memory may grow by beyond the cap
FAST = dict(backoff_base=0.01, max_wait=5.0)  # retries that do not sleep for long


def host(srv: Hostile) -> str:
    return srv.url.removeprefix("http://")


# -- memory ------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.asynccontextmanager
async def bounded_memory(cap: int):
    """Assert that the Python heap's peak and the process's RSS grow by less than cap + SLACK
    while the block runs (RSS sampled every 10 ms)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    rss0 = peak = _rss()
    done = False

    async def sample():
        nonlocal peak
        while not done:
            peak = max(peak, _rss())
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        yield
    finally:
        done = True
        await sampler
        heap_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    peak = max(peak, _rss())
    assert heap_peak < cap + SLACK, f"Python heap grew by {heap_peak / MiB:.0f} MiB"
    assert peak - rss0 < cap + SLACK, f"RSS grew by {(peak - rss0) / MiB:.0f} MiB"


async def gone(srv: Hostile, path: str, within: float = 10.0) -> None:
    """The client hung up on `path` before its answer was complete."""
    await asyncio.wait_for(srv.closed_early[path].wait(), within)


# -- basics ------------------------------------------------------------------------------


async def test_user_agent_names_leakwatch_and_only_gzip_deflate_are_offered():
    async with Hostile() as srv, Http() as http:
        srv.route("/echo", echo())
        resp = await http.get(srv.url + "/echo", cap=MiB)
    sent = resp.json()["headers"]
    assert sent["user-agent"] == USER_AGENT
    assert sent["user-agent"].startswith(f"leakwatch/{__version__} ")
    assert sent["accept-encoding"] == "gzip, deflate"


async def test_ok_answer_is_returned_with_status_headers_body_and_url():
    async with Hostile() as srv, Http() as http:
        srv.route("/ok", respond(200, {"items": [1, 2]}, {"X-Next": "abc"}))
        srv.route("/latin", respond(200, "caf\u00e9".encode("latin-1"), {"Content-Type": "text/plain; charset=ISO-8859-1"}))
        resp = await http.get(srv.url + "/ok", cap=MiB, params={"since": "5"})
        latin = await http.get(srv.url + "/latin", cap=MiB)
    assert isinstance(resp, Response)
    assert resp.status == 200 and resp.headers["X-Next"] == "abc"
    assert resp.json() == {"items": [1, 2]}
    assert resp.url == srv.url + "/ok?since=5"
    assert latin.text() == "caf\u00e9"
    assert srv.requests[0].target == "/ok?since=5"


async def test_cookies_are_not_kept_between_requests():
    async with Hostile() as srv, Http() as http:
        srv.route("/set", respond(200, b"ok", {"Set-Cookie": "session=abc; Path=/"}))
        srv.route("/echo", echo())
        await http.get(srv.url + "/set", cap=MiB)
        resp = await http.get(srv.url + "/echo", cap=MiB)
    assert "cookie" not in resp.json()["headers"]


# -- hanging, trickling, unreachable -----------------------------------------------------


async def test_server_that_hangs_ends_in_read_timeout_and_is_retried():
    async with Hostile() as srv, Http(read_timeout=0.5, retries=1, **FAST) as http:
        srv.route("/hang", hang())
        t0 = time.monotonic()
        with pytest.raises(SourceError) as err:
            await http.get(srv.url + "/hang", cap=MiB)
        assert time.monotonic() - t0 < 10
        assert srv.hits["/hang"] == 2
    msg = str(err.value)
    assert msg.startswith(host(srv) + ": ") and "read timeout" in msg and "2 attempts" in msg


async def test_a_hanging_host_does_not_hold_up_another_host():
    async with Hostile() as bad, Hostile() as good, Http(per_host=1, read_timeout=4, total_timeout=4,
                                                         retries=0) as http:
        bad.route("/hang", hang())
        good.route("/ok", respond(200, {"ok": True}))
        stuck = asyncio.create_task(http.get(bad.url + "/hang", cap=MiB))
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        resp = await asyncio.wait_for(http.get(good.url + "/ok", cap=MiB), 3)
        assert resp.json() == {"ok": True}
        assert time.monotonic() - t0 < 3
        assert not stuck.done()  # the hanging one is still waiting, and harmed nobody
        with pytest.raises(SourceError):
            await asyncio.wait_for(stuck, 15)


async def test_trickling_server_is_ended_by_the_total_timeout():
    # One byte a second keeps the read timeout (5 s) from firing; the 2 s total ends it.
    async with Hostile() as srv, Http(read_timeout=5, total_timeout=2, retries=2, **FAST) as http:
        srv.route("/trickle", trickle(interval=1.0))
        t0 = time.monotonic()
        with pytest.raises(SourceError) as err:
            await http.get(srv.url + "/trickle", cap=MiB)
        assert time.monotonic() - t0 < 15
        await gone(srv, "/trickle")
        assert srv.hits["/trickle"] == 1  # a total timeout is not retried within the call
    assert str(err.value).startswith(host(srv) + ": timed out") and "2s total timeout" in str(err.value)


async def test_per_call_timeout_overrides_total_timeout():
    async with Hostile() as srv, Http(total_timeout=60, read_timeout=30) as http:
        srv.route("/trickle", trickle(interval=0.2))
        t0 = time.monotonic()
        with pytest.raises(SourceError, match="total timeout"):
            await http.get(srv.url + "/trickle", cap=MiB, timeout=1)
        assert time.monotonic() - t0 < 10


async def test_connect_timeout():
    with blackhole() as url:
        async with Http(connect_timeout=0.5, retries=0) as http:
            t0 = time.monotonic()
            with pytest.raises(SourceError, match="connect timed out after 0.5s"):
                await http.get(url + "/", cap=MiB)
            assert time.monotonic() - t0 < 10


async def test_connection_refused_is_retried_then_a_source_error():
    url = refused_url()
    async with Http(retries=2, **FAST) as http:
        with pytest.raises(SourceError) as err:
            await http.get(url + "/x", cap=MiB)
    msg = str(err.value)
    assert msg.startswith(host_of(url) + ": cannot connect") and "refused" in msg and "3 attempts" in msg
    assert err.value.status is None


# -- statuses, Retry-After ----------------------------------------------------------------


async def test_500_is_retried_with_backoff_until_it_succeeds():
    async with Hostile() as srv, Http(retries=2, **FAST) as http:
        srv.route("/flaky", sequence(respond(500), respond(502), respond(200, {"ok": 1})))
        resp = await http.get(srv.url + "/flaky", cap=MiB)
        assert resp.json() == {"ok": 1} and srv.hits["/flaky"] == 3


async def test_500_for_good_is_a_source_error_with_status_and_its_body_is_not_read():
    async with Hostile() as srv, Http(retries=2, **FAST) as http:
        srv.route("/down", sequence(respond(500, "oops"), respond(500, "oops"), stream_body(2 * GiB, status=500)))
        async with bounded_memory(0):
            with pytest.raises(SourceError) as err:
                await http.get(srv.url + "/down", cap=MiB)
        assert srv.hits["/down"] == 3
        await gone(srv, "/down")
        assert srv.sent["/down"] < SLACK
    assert err.value.status == 500 and not isinstance(err.value, RateLimited)
    assert str(err.value) == f"{host(srv)}: HTTP 500 (after 3 attempts)"


async def test_non_retryable_4xx_is_a_source_error_with_status_at_once():
    async with Hostile() as srv, Http(retries=3, **FAST) as http:
        srv.route("/gone", respond(404, "no"))
        srv.route("/auth", respond(401, "no"))
        for path, status in (("/gone", 404), ("/auth", 401)):
            with pytest.raises(SourceError) as err:
                await http.get(srv.url + path, cap=MiB)
            assert err.value.status == status and str(err.value) == f"{host(srv)}: HTTP {status}"
            assert srv.hits[path] == 1


async def test_post_is_not_retried_on_500_but_is_on_503():
    async with Hostile() as srv, Http(retries=2, **FAST) as http:
        srv.route("/500", respond(500))
        srv.route("/503", sequence(respond(503), respond(201, {"id": 1})))
        with pytest.raises(SourceError):
            await http.post(srv.url + "/500", cap=MiB, data=b"{}")
        resp = await http.post(srv.url + "/503", cap=MiB, data=b"{}")
        assert srv.hits["/500"] == 1 and srv.hits["/503"] == 2 and resp.status == 201
        assert srv.requests[-1].body == b"{}"


async def test_429_with_retry_after_seconds_is_waited_out():
    async with Hostile() as srv, Http(retries=2, max_wait=5) as http:
        srv.route("/rl", sequence(respond(429, "", {"Retry-After": "1"}), respond(200, {"ok": 1})))
        t0 = time.monotonic()
        resp = await http.get(srv.url + "/rl", cap=MiB)
        assert resp.status == 200 and srv.hits["/rl"] == 2
        assert time.monotonic() - t0 >= 0.95  # Retry-After: 1 was honoured


async def test_503_with_retry_after_http_date_is_waited_out():
    async with Hostile() as srv, Http(retries=2, max_wait=5) as http:
        when = email.utils.formatdate(time.time() + 2, usegmt=True)
        srv.route("/rl", sequence(respond(503, "", {"Retry-After": when}), respond(200, {"ok": 1})))
        t0 = time.monotonic()
        resp = await http.get(srv.url + "/rl", cap=MiB)
        assert resp.status == 200 and srv.hits["/rl"] == 2
        assert time.monotonic() - t0 >= 0.5  # the date was at least a second away


async def test_retry_after_beyond_max_wait_raises_rate_limited_at_once():
    async with Hostile() as srv, Http(retries=3, max_wait=5) as http:
        far = email.utils.formatdate(time.time() + 3600, usegmt=True)
        srv.route("/secs", respond(429, "", {"Retry-After": "3600"}))
        srv.route("/date", respond(503, "", {"Retry-After": far}))
        t0 = time.monotonic()
        with pytest.raises(RateLimited) as secs:
            await http.get(srv.url + "/secs", cap=MiB)
        with pytest.raises(RateLimited) as date:
            await http.get(srv.url + "/date", cap=MiB)
        assert time.monotonic() - t0 < 10
        assert srv.hits["/secs"] == 1 and srv.hits["/date"] == 1
    assert secs.value.retry_after == 3600 and secs.value.status == 429
    assert 3590 < date.value.retry_after <= 3600 and date.value.status == 503
    assert str(secs.value) == f"{host(srv)}: HTTP 429, asked to wait 3600s"


async def test_429_that_never_ends_is_rate_limited_after_the_retries():
    async with Hostile() as srv, Http(retries=2, **FAST) as http:
        srv.route("/rl", respond(429, "", {"Retry-After": "0"}))
        with pytest.raises(RateLimited) as err:
            await http.get(srv.url + "/rl", cap=MiB)
        assert srv.hits["/rl"] == 3
    assert err.value.status == 429 and err.value.retry_after == 0


# -- bodies: garbage, size, bombs, lies ----------------------------------------------------


@pytest.mark.parametrize("body", [b'{"items": [1, 2', b"\xff\xfe\x00\x81garbage", b"<html>token=SECRET</html>",
                                  b"[" * 200_000, b""], ids=["truncated", "binary", "html", "deep", "empty"])
async def test_garbage_json_is_a_source_error_naming_the_host(body):
    async with Hostile() as srv, Http() as http:
        srv.route("/j", respond(200, body, {"Content-Type": "application/json"}))
        resp = await http.get(srv.url + "/j", cap=MiB)
    with pytest.raises(SourceError) as err:
        resp.json()
    msg = str(err.value)
    assert msg.startswith(f"{host(srv)}: answer is not") and "SECRET" not in msg and "garbage" not in msg
    assert err.value.status == 200


@pytest.mark.parametrize("framing", ["chunked", "close"])
async def test_2gb_body_stops_at_the_cap_and_closes_the_connection(framing):
    cap = 8 * MiB
    async with Hostile() as srv, Http() as http:
        srv.route("/big", stream_body(2 * GiB, framing=framing))
        async with bounded_memory(cap):
            with pytest.raises(TooLarge) as err:
                await http.get(srv.url + "/big", cap=cap)
        await gone(srv, "/big")
        assert srv.sent["/big"] < cap + SLACK and srv.hits["/big"] == 1  # not retried
    assert str(err.value) == f"{host(srv)}: body over the {cap}-byte cap (counted after decompression)"


async def test_2gb_body_announced_by_content_length_is_refused_before_reading():
    # Announced 2 GiB, cap 8 MiB: refused on the header, nothing read.
    cap = 8 * MiB
    async with Hostile() as srv, Http() as http:
        srv.route("/big", stream_body(2 * GiB))
        async with bounded_memory(cap):
            with pytest.raises(TooLarge) as err:
                await http.get(srv.url + "/big", cap=cap)
        await gone(srv, "/big")
        assert srv.sent["/big"] < cap + SLACK
    assert str(err.value) == f"{host(srv)}: body of {2 * GiB} bytes announced, over the {cap}-byte cap"


@pytest.mark.parametrize("kind", ["gzip", "deflate", "raw-deflate"])
async def test_streamed_10gb_bomb_stops_at_the_cap_counted_after_decompression(kind):
    cap = 4 * MiB
    async with Hostile() as srv, Http() as http:
        srv.route("/bomb", bomb(kind, mib=10 * 1024))
        async with bounded_memory(cap):
            with pytest.raises(TooLarge) as err:
                await http.get(srv.url + "/bomb", cap=cap)
        await gone(srv, "/bomb")
        assert srv.sent["/bomb"] < 64 * MiB  # compressed bytes written before the hang-up
    assert str(err.value) == f"{host(srv)}: body over the {cap}-byte cap (counted after decompression)"


async def test_precomputed_1gb_gzip_bomb_sent_whole_stops_at_the_cap():
    cap = 16 * MiB
    async with Hostile() as srv, Http() as http:
        srv.route("/bomb", bomb("gzip", mib=1024, precomputed=True))
        async with bounded_memory(cap):
            with pytest.raises(TooLarge, match="counted after decompression"):
                await http.get(srv.url + "/bomb", cap=cap)


async def test_compressed_body_within_the_cap_is_decoded_and_the_cap_is_exact():
    async with Hostile() as srv, Http() as http:
        srv.route("/z", bomb("gzip", mib=2, precomputed=True))  # ~2 KiB on the wire
        resp = await http.get(srv.url + "/z", cap=2 * MiB)
        assert resp.body == bytes(2 * MiB)
        with pytest.raises(TooLarge):
            await http.get(srv.url + "/z", cap=2 * MiB - 1)


async def test_encoding_that_was_not_offered_is_a_source_error():
    async with Hostile() as srv, Http(retries=2, **FAST) as http:
        srv.route("/br", raw(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 6\r\n\r\n\x0bgarbl"))
        srv.route("/gz", raw(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 6\r\n\r\nnot gz"))
        for path in ("/br", "/gz"):
            with pytest.raises(SourceError) as err:
                await http.get(srv.url + path, cap=MiB)
            assert str(err.value).startswith(host(srv) + ": ")
            assert "decod" in str(err.value) or "decompress" in str(err.value)


async def test_content_length_that_claims_1gb_but_sends_10_bytes():
    async with Hostile() as srv, Http(retries=1, **FAST) as http:
        srv.route("/short", lying_length(claimed=GiB, actual=10))
        with pytest.raises(SourceError) as err:
            await http.get(srv.url + "/short", cap=2 * GiB)
        assert srv.hits["/short"] == 2  # a broken-off body is retried
    assert str(err.value).startswith(f"{host(srv)}: body broken off before its end")


async def test_content_length_that_claims_10_bytes_but_sends_10mb():
    cap = MiB
    async with Hostile() as srv, Http(retries=0) as http:
        srv.route("/long", lying_length(claimed=10, actual=10 * MiB))
        srv.route("/ok", respond(200, {"ok": True}))
        async with bounded_memory(cap):
            try:
                resp = await http.get(srv.url + "/long", cap=cap)
            except SourceError as exc:  # the extra bytes came in the same read as the answer
                assert str(exc).startswith(host(srv) + ": malformed answer")
            else:  # or they came later, on a connection that is then dropped, not reused
                assert resp.body == b"x" * 10
        # the lie does not poison the next request
        assert (await http.get(srv.url + "/ok", cap=cap)).json() == {"ok": True}


async def test_1mb_header_is_a_source_error_not_memory():
    async with Hostile() as srv, Http(retries=2, **FAST) as http:
        srv.route("/hdr", huge_header(MiB))
        async with bounded_memory(0):
            with pytest.raises(SourceError) as err:
                await http.get(srv.url + "/hdr", cap=MiB)
        assert srv.hits["/hdr"] == 1  # a broken answer is not retried
    assert str(err.value) == f"{host(srv)}: malformed answer: a header line is over 8190 bytes"


async def test_garbage_instead_of_http_is_a_source_error():
    async with Hostile() as srv, Http(**FAST) as http:
        srv.route("/g", raw(b"\x00\x01SSH-2.0-OpenSSH\r\n\r\n"))
        with pytest.raises(SourceError, match="malformed answer: not an HTTP status line"):
            await http.get(srv.url + "/g", cap=MiB)


# -- redirects -----------------------------------------------------------------------------


async def test_redirect_loop_ends_in_a_source_error_at_once():
    async with Hostile() as srv, Http(max_redirects=50) as http:
        srv.route("/self", redirect("/self"))
        srv.route("/a", redirect("/b", 301))
        srv.route("/b", redirect(srv.url + "/a", 307))
        t0 = time.monotonic()
        for path in ("/self", "/a"):
            with pytest.raises(SourceError) as err:
                await http.get(srv.url + path, cap=MiB)
            assert str(err.value) == f"{host(srv)}: redirect loop"
        assert time.monotonic() - t0 < 10
        assert srv.hits["/self"] == 1 and srv.hits["/a"] == 1 and srv.hits["/b"] == 1


async def test_redirects_are_followed_up_to_max_redirects():
    async with Hostile() as srv, Http(max_redirects=3) as http:
        for i in range(10):
            srv.route(f"/r{i}", redirect(f"/r{i + 1}?n={i}"))
        srv.route("/r10", respond(200, {"end": True}))
        resp = await http.get(srv.url + "/r7", cap=MiB)  # r7 -> r8 -> r9 -> r10: three hops
        assert resp.json() == {"end": True} and resp.url == srv.url + "/r10?n=9"
        with pytest.raises(SourceError) as err:
            await http.get(srv.url + "/r0", cap=MiB)
    assert str(err.value) == f"{host(srv)}: too many redirects (more than 3)"


async def test_redirect_to_another_origin_drops_the_callers_headers():
    async with Hostile() as a, Hostile() as b, Http() as http:
        b.route("/echo", echo())
        a.route("/echo", echo())
        a.route("/away", redirect(b.url + "/echo"))
        a.route("/here", redirect("/echo"))
        secret = {"Authorization": "Bearer SECRET", "X-Api-Key": "SECRET", "Accept": "application/json"}
        away = (await http.get(a.url + "/away", cap=MiB, headers=secret)).json()["headers"]
        here = (await http.get(a.url + "/here", cap=MiB, headers=secret)).json()["headers"]
    assert "authorization" not in away and "x-api-key" not in away and away["accept"] == "application/json"
    assert here["authorization"] == "Bearer SECRET" and here["x-api-key"] == "SECRET"


async def test_303_turns_post_into_get_without_body():
    async with Hostile() as srv, Http() as http:
        srv.route("/form", redirect("/echo", 303))
        srv.route("/echo", echo())
        resp = await http.post(srv.url + "/form", cap=MiB, data=b"q=1", headers={"Content-Type": "text/plain"})
        assert resp.json()["method"] == "GET" and srv.requests[-1].body == b""


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/"])
async def test_redirect_to_a_refused_place_is_a_source_error(location):
    async with Hostile() as srv, Http() as http:
        srv.route("/r", redirect(location))
        with pytest.raises(SourceError, match=f"^{host(srv)}: redirect refused: "):
            await http.get(srv.url + "/r", cap=MiB)


def test_next_hop_never_downgrades_https_and_resolves_relative_locations():
    assert next_hop("https://a.example/x/y", "http://a.example/z") == (None, "from https down to http")
    assert str(next_hop("https://a.example/x/y", "../z?q=1#frag")[0]) == "https://a.example/z?q=1"
    assert str(next_hop("http://a.example/", "https://b.example/")[0]) == "https://b.example/"
    assert next_hop("http://a.example/", "javascript:alert(1)")[1] == "Location is not an http or https URL"


# -- per-host limit ----------------------------------------------------------------------


async def test_per_host_limit_caps_concurrent_requests_to_one_host():
    async with Hostile() as srv, Hostile() as other, Http(per_host=3) as http:
        srv.route("/slow", slow(0.3))
        other.route("/slow", slow(0.3))
        results = await asyncio.gather(*[http.get(srv.url + "/slow", cap=MiB) for _ in range(12)],
                                       *[http.get(other.url + "/slow", cap=MiB) for _ in range(3)])
        assert all(r.status == 200 for r in results)
        assert srv.max_in_flight == 3  # the limit was reached and never passed
        assert other.max_in_flight == 3
    assert http._hosts == {}  # no slot left behind


async def test_a_cancelled_request_gives_its_slot_back():
    async with Hostile() as srv, Http(per_host=1, total_timeout=30) as http:
        srv.route("/hang", hang())
        srv.route("/ok", respond(200, {"ok": True}))
        stuck = asyncio.create_task(http.get(srv.url + "/hang", cap=MiB))
        await asyncio.sleep(0.2)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        resp = await asyncio.wait_for(http.get(srv.url + "/ok", cap=MiB), 10)
        assert resp.status == 200


# -- what errors say -----------------------------------------------------------------------


async def test_errors_name_the_host_and_never_the_query_string_or_header_values():
    routes = {"/hang": hang(), "/404": respond(404, "SECRET body"), "/500": respond(500, "SECRET"),
              "/hdr": huge_header(64 * KiB, name="X-SECRET"), "/loop": redirect("/loop?token=SECRET"),
              "/big": stream_body(4 * MiB, framing="close"), "/gz": raw(
                  b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 6\r\n\r\nSECRET"),
              "/short": lying_length(claimed=100, actual=5), "/bad": raw(b"SECRET\r\n\r\n")}
    headers = {"Authorization": "Bearer SECRET", "X-Api-Key": "SECRET", "Cookie": "s=SECRET"}
    async with Hostile() as srv, Http(read_timeout=0.3, retries=1, **FAST) as http:
        for path, handler in routes.items():
            srv.route(path, handler)
        calls = [(srv.url + path + "?token=SECRET&q=SECRET", headers) for path in routes]
        calls += [(srv.url.replace("http://", "http://user:SECRET@") + path + "?token=SECRET", {"X-Api-Key": "SECRET"})
                  for path in routes]
        calls += [(refused_url() + "/x?token=SECRET", headers)]
        for url, hdrs in calls:
            with pytest.raises(SourceError) as err:
                await http.get(url, cap=MiB, headers=hdrs)
            exc = err.value
            shown = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
            assert "SECRET" not in shown, (url, shown)
            assert str(exc).startswith(host_of(url) + ": "), str(exc)
            assert exc.__cause__ is None and exc.__suppress_context__
        assert all(srv.hits[path] >= 2 for path in routes), srv.hits  # every call reached the server
        assert srv.requests[0].headers["authorization"] == "Bearer SECRET"  # the server did get them


# -- pure helpers ------------------------------------------------------------------------------


def test_parse_retry_after():
    now = 1_700_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=now) == 90.0
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now=1445412480.0 - 60) == 60.0
    assert parse_retry_after("99999999999999999999") == 86_400.0  # at most a day
    for bad in (None, "", "soon", "-5", "1e9", "Mon, 99 Foo 2024 99:99:99 GMT", "9" * 100):
        assert parse_retry_after(bad) is None, bad


def test_backoff_is_full_jitter_within_its_ceiling():
    for attempt in range(12):
        ceiling = min(30.0, 0.5 * 2 ** attempt)
        samples = [backoff(attempt, 0.5, 30.0) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) - min(samples) > ceiling / 10  # jittered, not fixed
    assert backoff(10_000, 1.0, 5.0) <= 5.0


def test_host_of_keeps_only_host_and_port():
    assert host_of("https://user:tok@api.example.org:8443/p?token=x") == "api.example.org:8443"
    assert host_of("https://API.example.org/p?token=x#f") == "api.example.org"
    assert host_of("http://[::1]:8080/") == "[::1]:8080"
    assert host_of("not a url") == "invalid URL"


def test_bad_settings_are_refused():
    for kwargs in ({"per_host": 0}, {"read_timeout": 0}, {"total_timeout": -1}, {"retries": -1}):
        with pytest.raises(ValueError):
            Http(**kwargs)
