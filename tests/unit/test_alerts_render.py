"""What a page says, how a failed send is classified, and that the redaction check can fail."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from fakes.telegram import leaks_in
from leakwatch.alerts import backoff, classify, compose, render_page, retry_after_seconds, sign
from leakwatch.models import Finding, Severity, StaffHit
from synthetic import make_rows

ROWS = make_rows(30, seed=3)
ROSTER = {v.lower() for r in ROWS for v in (r.forenames, r.surname, r.pay_number, r.warrant_number, r.email)}


def hit(i: int, sensitive=False) -> StaffHit:
    r = ROWS[i]
    return StaffHit(ref=f"s-{'abcdefghijklmnop'[i % 16:]}{'q' * (i % 16)}", kinds=["name", "pay_number"],
                    confidence=0.9, log_lr=3.0, rank=r.rank, unit=r.unit, sensitive=sensitive)


def test_a_finding_renders_in_words_without_values():
    """A Finding (the demo's dry run) renders severity, counts, ranks, units, kinds; no values."""
    f = Finding(source="/inbox/drop/leak.csv", severity=Severity.CRITICAL, score=14.0,
                staff=[hit(i, sensitive=i < 2) for i in range(20)],
                credentials=[{"address": "a***@force.example.police.uk", "kind": "password", "ref": None,
                              "where": "line 3"}],
                reasons=["20 staff members in a 20-row table", "severity: bulk leak"])
    text = render_page(f)
    assert text.splitlines()[0] == "\U0001F534 CRITICAL: police staff data exposed"
    assert "What: 20 staff members" in text and "Note: 2 in sensitive units" in text
    assert "Data: names (20), pay numbers (20)" in text and "Credentials: YES, 1 password" in text
    assert "Why critical: bulk leak" in text and "Source: leak.csv" in text and "(+8 more)" in text
    assert "/alerts/" not in text and "@" not in text
    assert leaks_in([text], ROSTER) == []


def test_a_stored_alert_renders_state_sightings_and_link():
    """An alert row: state with who and when, sightings, escalations, the analyst link."""
    at = datetime(2025, 3, 4, 14, 2, tzinfo=timezone.utc)
    text = render_page({"id": 7, "severity": 3, "staff": [{"ref": "s-aaaaaaaaaaaaaaaa", "kinds": ["email"],
                                                           "rank": "PC", "unit": "Custody"}],
                        "credentials": 0, "source": "pastebin", "url": "https://paste.example/raw/x",
                        "first_seen": at, "seen_count": 2, "sightings": [{"source": "gists", "at": at.isoformat()}],
                        "state": "acknowledged", "acted_by": "@oncall", "acted_at": at, "escalations": 1},
                       public_url="https://lw.example/", note="Update")
    lines = text.splitlines()
    assert lines[0] == "Update" and lines[1].endswith("HIGH: police staff data exposed \u00b7 alert #7")
    assert "What: 1 staff member: PC 1" in text and "Data: work e-mail addresses (1)" in text
    assert "Source: pastebin \u2014 https://paste.example/raw/x" in text and "First seen: 2025-03-04 14:02 UTC" in text
    assert "Seen 2 times; again on gists at 14:02 UTC" in text
    assert "Status: ACKNOWLEDGED by @oncall at 14:02 UTC; escalated 1 time" in text
    assert lines[-1] == "https://lw.example/alerts/7"


def test_non_http_locations_are_not_shown():
    """A file path or other non-URL location is left out (it could be anything)."""
    text = render_page({"id": 1, "severity": "high", "staff": [], "source": "folder", "url": "/drops/x.csv"})
    assert "/drops/" not in text and "Source: folder" in text


def test_the_redaction_check_can_fail():
    """The session check flags a roster name, a number, an address and any 6+ digit run."""
    r = ROWS[0]
    assert leaks_in([f"found {r.surname} here"], ROSTER)
    assert leaks_in([f"pay {r.pay_number}"], ROSTER)
    assert leaks_in(["mail j***@force.example.police.uk"], ROSTER)
    assert leaks_in(["id 12345678"], ROSTER)
    assert leaks_in(["ref s-abcdefghijkl2345 and alert #12 at 14:02"], ROSTER) == []


def _raised(exc: Exception, cause: Exception | None = None) -> Exception:
    exc.__cause__ = cause
    return exc


def test_failed_sends_are_classified_by_what_telegram_may_have_done():
    """Timeouts after the request left may have delivered (unconfirmed); refused connections and
    error answers did not (retry); bad requests are final (dead); flood control pauses all."""
    req = httpx.Request("POST", "http://x")
    assert classify(_raised(TimedOut(), httpx.ReadTimeout("r", request=req))).kind == "unconfirmed"
    assert classify(_raised(TimedOut(), httpx.ConnectTimeout("c", request=req))).kind == "retry"
    assert classify(_raised(TimedOut(), httpx.PoolTimeout("p", request=req))).kind == "retry"
    assert classify(_raised(NetworkError("x"), httpx.ConnectError("refused", request=req))).kind == "retry"
    assert classify(_raised(NetworkError("x"), httpx.RemoteProtocolError("gone", request=req))).kind == "unconfirmed"
    assert classify(NetworkError("Bad Gateway")).kind == "retry"
    assert classify(BadRequest("Chat not found")).kind == "dead"
    assert classify(Forbidden("bot was blocked by the user")).kind == "dead"
    migrated = classify(ChatMigrated(-100777))
    assert migrated.kind == "reroute" and migrated.chat == -100777
    flood = classify(RetryAfter(3))
    assert flood.kind == "retry" and flood.pause_all and flood.delay == 3.0


def test_retry_after_is_read_as_int_or_timedelta():
    """python-telegram-bot 22 gives an int, later versions a timedelta: both are seconds."""
    assert retry_after_seconds(RetryAfter(5)) == 5.0

    class Later:
        retry_after = timedelta(seconds=2.5)

    class Older:
        retry_after = 4

    assert retry_after_seconds(Later()) == 2.5
    assert retry_after_seconds(Older()) == 4.0


def test_the_token_never_reaches_an_error_message():
    """Messages are cleaned of the bot token (InvalidToken quotes it)."""
    out = classify(NetworkError("https://api.example/bot123:SECRETSECRET/sendMessage failed"), "123:SECRETSECRET")
    assert "SECRETSECRET" not in out.error and "<token>" in out.error


def test_backoff_grows_is_capped_and_jittered():
    """The n-th failure waits at most low * 2^n, never above the cap, and not always the same."""
    waits = [backoff(n, 0.1, 2.0) for n in range(1, 12) for _ in range(20)]
    assert all(0.1 <= w <= 2.0 for w in waits)
    assert len({round(w, 6) for w in waits}) > 100
    assert max(backoff(1, 0.1, 2.0) for _ in range(50)) <= 0.2


def test_webhook_signature_is_hmac_sha256_of_the_body():
    """X-Leakwatch-Signature is sha256= and the hex HMAC-SHA256 of the exact body."""
    body = b'{"a":1}'
    assert sign("k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()


def test_composed_texts_mark_duplicates_and_operator_messages():
    """Resends carry the possible-duplicate line; operator texts have no buttons; a missing alert
    yields nothing to send."""
    alert = {"id": 3, "severity": 4, "staff": [], "source": "gists", "url": None}
    row = {"kind": "page", "alert_id": 3, "body": None, "possible_duplicate_of": 41, "edit_of": None}
    text, buttons = compose(row, {3: alert}, {}, "")
    assert text.startswith("\u26a0 Possible duplicate of message #41") and buttons
    op, op_buttons = compose({"kind": "operator", "alert_id": None, "body": "Source x is failing",
                              "possible_duplicate_of": None, "edit_of": None}, {}, {}, "")
    assert op.endswith("Source x is failing") and not op_buttons
    assert compose({**row, "alert_id": 9}, {3: alert}, {}, "") is None
    edit = {"kind": "edit", "alert_id": 3, "body": None, "possible_duplicate_of": None, "edit_of": 50}
    text, _ = compose(edit, {3: alert}, {50: {"kind": "escalation", "body": "Escalation 1 of 3",
                                              "possible_duplicate_of": None}}, "")
    assert text.startswith("\u23eb Escalation 1 of 3")


@pytest.mark.parametrize("sev", ["critical", "high", "medium"])
def test_every_severity_renders(sev):
    """Each pageable severity has its title."""
    assert sev.upper() in render_page({"id": 1, "severity": sev, "staff": []})
