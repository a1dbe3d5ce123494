"""The HIBP source against a local stand-in of API v3, through the real Http client."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from fakes import serve
from fakes.hibp import HibpState, breach, hibp_app
from leakwatch.errors import ConfigError
from leakwatch.http import Http, RateLimited, SourceError
from leakwatch.models import SourceSettings
from leakwatch.plugins import load_sources
from sources.hibp import HibpSource

KEY = "0123456789abcdef0123456789abcdef"
DOMAIN = "force.example.police.uk"


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "hibp-key"
    path.write_text(KEY + "\n")
    return path


def source(base: str, key_file, domains=(DOMAIN,), **options) -> HibpSource:
    return HibpSource(SourceSettings(name="hibp", kind="hibp", base_url=base, timeout=5,
                                     options={"api_key_file": str(key_file), "domains": list(domains), **options}))


def http(**kw) -> Http:
    return Http(retries=0, backoff_base=0.01, **kw)


def verified_state() -> HibpState:
    state = HibpState(api_key=KEY, verified={DOMAIN})
    state.domains[DOMAIN] = {"f.quarrington": ["ExampleForum", "AcmeShop"], "z.okonkwo-pell": ["AcmeShop"]}
    return state


async def test_domain_search_becomes_one_document_of_address_lines(key_file):
    state = verified_state()
    async with serve(hibp_app(state)) as base, http() as h:
        poll = await source(base, key_file).poll(h, None)
    (doc,) = [i for i in poll.items if i.external_id.startswith("domain:")]
    assert doc.body.decode().splitlines() == [
        f"HIBP domain search: {DOMAIN}",
        f"f.quarrington@{DOMAIN}: AcmeShop, ExampleForum",
        f"z.okonkwo-pell@{DOMAIN}: AcmeShop",
    ]
    assert doc.external_id.startswith(f"domain:{DOMAIN}#")
    assert "quarrington" not in doc.external_id and "quarrington" not in doc.name
    search = next(r for r in state.requests if r["path"].startswith("/api/v3/breacheddomain/"))
    assert search["headers"]["hibp-api-key"] == KEY
    assert search["headers"]["User-Agent"].startswith("leakwatch/")


async def test_unchanged_answer_keeps_its_id_and_a_changed_one_gets_a_new_id(key_file):
    state = verified_state()
    async with serve(hibp_app(state)) as base, http() as h:
        src = source(base, key_file)
        first = await src.poll(h, None)
        second = await src.poll(h, first.cursor)
        state.domains[DOMAIN]["m.tregarthen"] = ["NewBreach2024"]
        third = await src.poll(h, second.cursor)
    ids = [[i.external_id for i in p.items if i.external_id.startswith("domain:")] for p in (first, second, third)]
    assert ids[0] == ids[1]
    assert ids[2] != ids[0] and len(ids[2]) == 1
    assert b"m.tregarthen@" in third.items[0].body


async def test_document_id_is_keyed_by_the_api_key(tmp_path, key_file):
    other_key = "fedcba9876543210fedcba9876543210"
    other_file = tmp_path / "other-key"
    other_file.write_text(other_key)
    state = verified_state()
    async with serve(hibp_app(state)) as base, http() as h:
        one = await source(base, key_file).poll(h, None)
        state.api_key = other_key
        two = await source(base, other_file).poll(h, None)
    assert one.items[0].body == two.items[0].body
    assert one.items[0].external_id != two.items[0].external_id


async def test_404_means_no_breached_address_and_no_document(key_file):
    state = HibpState(api_key=KEY, verified={DOMAIN})
    async with serve(hibp_app(state)) as base, http() as h:
        poll = await source(base, key_file).poll(h, None)
    assert poll.items == []
    assert any(r["path"] == f"/api/v3/breacheddomain/{DOMAIN}" for r in state.requests)


async def test_a_refused_key_is_a_source_error_without_the_key(tmp_path):
    wrong = tmp_path / "wrong-key"
    wrong.write_text("aaaabbbbccccddddeeeeffff00001111")
    state = verified_state()
    async with serve(hibp_app(state)) as base, http() as h:
        with pytest.raises(SourceError) as err:
            await source(base, wrong).poll(h, None)
    assert err.value.status == 401
    assert "API key was refused" in str(err.value)
    assert "aaaabbbb" not in str(err.value)


async def test_an_unverified_domain_is_a_source_error_naming_it(key_file):
    state = verified_state()
    async with serve(hibp_app(state)) as base, http() as h:
        with pytest.raises(SourceError) as err:
            await source(base, key_file, domains=[DOMAIN, "other.example.org"]).poll(h, None)
    assert err.value.status == 403
    assert "other.example.org" in str(err.value) and "not verified" in str(err.value)
    assert KEY not in str(err.value)


async def test_each_new_breach_becomes_a_document_once(key_file):
    state = HibpState(api_key=KEY)
    state.breaches = [
        breach("AcmeShop", "2024-01-10T08:00:00Z", title="Acme Shop", domain="acmeshop.example",
               data_classes=["Email addresses", "Passwords"], description="In <em>January 2024</em>, Acme Shop..."),
        breach("ExampleForum", "2024-02-01T09:30:00Z", domain="forum.example"),
    ]
    async with serve(hibp_app(state)) as base, http() as h:
        src = source(base, key_file, domains=[])
        first = await src.poll(h, None)
        cursor = json.loads(json.dumps(first.cursor))
        second = await src.poll(h, cursor)
        state.breaches.append(breach("SameInstant", "2024-02-01T09:30:00Z"))
        state.breaches.append(breach("CardSupplier", "2024-03-05T12:00:00Z", domain="cards.example",
                                     data_classes=["Names", "Photos", "Job titles"]))
        third = await src.poll(h, second.cursor)
    assert [i.external_id for i in first.items] == ["breach:AcmeShop", "breach:ExampleForum"]
    acme = first.items[0].body.decode()
    assert "Title: Acme Shop\n" in acme
    assert "Domain: acmeshop.example\n" in acme
    assert "DataClasses: Email addresses, Passwords\n" in acme
    assert "Description: In <em>January 2024</em>, Acme Shop..." in acme
    assert first.items[0].published == datetime(2024, 1, 10, 8, tzinfo=timezone.utc)
    assert first.cursor == {"added": "2024-02-01T09:30:00Z", "names": ["ExampleForum"]}
    assert second.items == []
    assert [i.external_id for i in third.items] == ["breach:SameInstant", "breach:CardSupplier"]
    assert third.cursor == {"added": "2024-03-05T12:00:00Z", "names": ["CardSupplier"]}


async def test_a_long_retry_after_is_a_rate_limited_error(key_file):
    state = verified_state()
    state.retry_after = 600
    async with serve(hibp_app(state)) as base, http(max_wait=1) as h:
        with pytest.raises(RateLimited) as err:
            await source(base, key_file).poll(h, None)
    assert err.value.retry_after == 600


@pytest.mark.parametrize("options, option", [
    ({}, "api_key_file"),
    ({"api_key_file": "/nonexistent/hibp-key"}, "api_key_file"),
    ({"domains": "force.example.police.uk"}, "domains"),
    ({"domains": ["not a domain"]}, "domains"),
    ({"domain": ["force.example.police.uk"]}, "domain"),
])
def test_bad_options_are_config_errors_naming_source_and_option(options, option, key_file):
    raw = {"kind": "hibp", "name": "hibp-force", **options}
    if option != "api_key_file":
        raw["api_key_file"] = str(key_file)
    with pytest.raises(ConfigError) as err:
        load_sources([raw])
    assert "hibp-force" in str(err.value) and f"{option}:" in str(err.value)


def test_load_sources_builds_a_hibp_source(key_file):
    (src,) = load_sources([{"kind": "hibp", "name": "hibp-force", "api_key_file": str(key_file),
                            "domains": ["Force.Example.Police.UK", "force.example.police.uk"]}])
    assert isinstance(src, HibpSource)
    assert src.domains == [DOMAIN] and src.base == "https://haveibeenpwned.com"
    assert KEY not in repr(src)
