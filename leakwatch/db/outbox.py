"""Alerts and their outbox: written in the transaction that records a finding, sent by the relay.

`on_finding(conn, finding_id)` is called by the match stage inside the transaction that
inserts the finding (leakwatch.db.pipeline.finish_job). A finding at or above the page
threshold opens an alert and queues a page in that same transaction, so a finding and its page
are recorded together or not at all. A re-post of a known leak (the same content, the same
staff set, or a near-duplicate staff set) folds into its alert as a sighting instead; it pages
again (a follow-up) only when the severity rises or new staff or credentials appear.

The rest is the relay's and the update handler's storage: claiming rows with leases, recording
what happened to each send, recovering what a dead relay left half-done, acknowledgements,
escalation and operator-alert rate limits. Only refs, counts and public words are stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg

from leakwatch.db import q
from leakwatch.db.locks import AdvisoryLocks
from leakwatch.db.pipeline import TRANSIENT as _PIPELINE_TRANSIENT
from leakwatch.models import Severity

# Errors after which the caller backs off and tries again (the pool reconnects by itself).
TRANSIENT = _PIPELINE_TRANSIENT + (asyncpg.TooManyConnectionsError,)

# Higher first. After an outage every critical page goes before the first high one.
PRIORITY_CRITICAL = 100
PRIORITY_ESCALATION = 90
PRIORITY_HIGH = 50
PRIORITY_OPERATOR = 30
PRIORITY_EDIT = 10

SIGHTINGS_KEPT = 20  # latest re-posts kept on an alert (the count keeps going)
NOTIFY_CHANNEL = "leakwatch_outbox"

# Button or command -> the state it puts the alert in.
ACTIONS = {"acknowledge": "acknowledged", "false_positive": "false_positive", "escalate": "escalated"}


def _load(value):
    return json.loads(value) if isinstance(value, str) else value


def audience_of(severity: int) -> str:
    return "critical" if severity >= Severity.CRITICAL else "high"


def page_priority(severity: int) -> int:
    return PRIORITY_CRITICAL if severity >= Severity.CRITICAL else PRIORITY_HIGH


def _credential_token(cred: dict) -> str:
    """An opaque token per exposed credential (by staff ref, else by the masked address)."""
    who = cred.get("ref") or cred.get("address") or ""
    return "c-" + hashlib.sha256(f"credential\0{who}".encode()).hexdigest()[:16]


_SUPPLIER = re.compile(r"a supplier on the watch list \((.{1,200}?)\) named on a ransomware leak site")


def _supplier_tokens(reasons) -> set[str]:
    """A supplier named on a leak site is the same event on every tracker that lists it: one
    token per supplier, so a second tracker's posting is a sighting, not a second page."""
    out = set()
    for r in reasons or []:
        m = _SUPPLIER.search(r) if isinstance(r, str) else None
        if m:
            out.add("p-" + hashlib.sha256(f"supplier\0{m.group(1).casefold()}".encode()).hexdigest()[:16])
    return out


def _staff_entry(s: dict) -> dict:
    return {"ref": s["ref"], "kinds": sorted(s.get("kinds") or []), "rank": s.get("rank") or None,
            "unit": s.get("unit") or None, "sensitive": bool(s.get("sensitive")), "leaver": bool(s.get("leaver"))}


def _why(reasons: list) -> str | None:
    for r in reasons or []:
        if isinstance(r, str) and r.startswith("severity: "):
            return r[len("severity: "):]
    return None


async def on_finding(conn, finding_id: int, *, threshold: int = Severity.HIGH, similarity: float = 0.6,
                     window_days: int = 30) -> int | None:
    """Open, or fold into, the alert for a finding. Returns the alert id, or None.

    Runs inside the caller's transaction. At or above `threshold` a finding opens an alert (and
    queues its page) unless it is a re-post of a recent one: the same content (`duplicate_of`),
    the same staff set, or staff and credential tokens overlapping by Jaccard >= `similarity`.
    A medium finding that is such a re-post is recorded as a sighting and never pages.
    """
    f = await conn.fetchrow(q("alerts_finding_input"), finding_id)
    if f is None or f["severity"] < min(threshold, Severity.MEDIUM):
        return None
    staff = [s for s in _load(f["staff"]) if isinstance(s, dict) and s.get("ref")]
    creds = [c for c in _load(f["credentials"]) if isinstance(c, dict)]
    people = {s["ref"]: _staff_entry(s) for s in staff}
    cred_tokens = {_credential_token(c) for c in creds}
    tokens = sorted(set(people) | cred_tokens | _supplier_tokens(_load(f["reasons"])))
    digest = hashlib.sha256("\n".join(tokens).encode()).digest()

    async def known():
        if f["duplicate_of"] is not None:
            row = await conn.fetchrow(q("alerts_of_finding"), f["duplicate_of"])
            if row is not None:
                return row
        if tokens:
            row = await conn.fetchrow(q("alerts_by_digest"), digest, window_days)
            if row is None:
                row = await conn.fetchrow(q("alerts_near_duplicate"), tokens, window_days, similarity)
            return row
        return None

    if f["severity"] < threshold and await known() is None:
        return None  # below the threshold and not a re-post: nothing to say
    await conn.execute(q("alerts_lock"))
    alert = await known()  # again, under the lock: another finding may have just opened it

    if alert is None:
        alert_id = await conn.fetchval(
            q("alerts_insert"), finding_id, f["severity"], digest, tokens,
            json.dumps(list(people.values())), len(cred_tokens), _why(_load(f["reasons"])),
            f["source"], f["url"], f["document_id"])
        await conn.fetchval(q("outbox_insert"), alert_id, "page", audience_of(f["severity"]),
                            page_priority(f["severity"]), None)
        await conn.execute(q("outbox_notify"))
        return alert_id

    alert_id = alert["id"]
    paging = f["severity"] >= threshold
    old_staff = {s["ref"]: s for s in _load(alert["staff"])}
    old_tokens = set(alert["tokens"])
    new_staff = [r for r in people if r not in old_staff] if paging else []
    new_creds = [t for t in cred_tokens if t not in old_tokens] if paging else []
    merged = dict(old_staff)
    for ref in new_staff:
        merged[ref] = people[ref]
    if paging:
        for ref, entry in people.items():
            if ref in old_staff:
                merged[ref] = {**old_staff[ref], "kinds": sorted(set(old_staff[ref].get("kinds") or [])
                                                                 | set(entry["kinds"]))}
    merged_tokens = sorted(old_tokens | set(new_staff) | set(new_creds))
    severity = f["severity"] if paging else min(f["severity"], alert["severity"])
    sightings = _load(alert["sightings"]) + [{
        "source": f["source"], "url": f["url"], "finding_id": finding_id,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}]
    credentials = alert["credentials"] + len(new_creds)
    await conn.execute(q("alerts_fold"), alert_id, finding_id, severity, _why(_load(f["reasons"])),
                       digest, merged_tokens, json.dumps(list(merged.values())), credentials,
                       json.dumps(sightings[-SIGHTINGS_KEPT:]))
    rose = paging and f["severity"] > alert["severity"]
    if rose or new_staff or new_creds:
        top = max(f["severity"], alert["severity"])
        notes = []
        if rose:
            notes.append(f"severity raised from {Severity(alert['severity'])} to {Severity(f['severity'])}")
        if new_staff:
            notes.append(f"{len(new_staff)} more staff")
        if new_creds:
            notes.append(f"{len(new_creds)} more credential{'s' if len(new_creds) != 1 else ''}")
        body = f"Update to alert #{alert_id}: " + "; ".join(notes) + f" (seen again on {f['source']})"
        await conn.fetchval(q("outbox_insert"), alert_id, "follow_up", audience_of(top), page_priority(top), body)
    await conn.execute(q("outbox_queue_edits"), alert_id, PRIORITY_EDIT)
    await conn.execute(q("outbox_notify"))
    return alert_id


# --------------------------------------------------------------------------- relay storage

async def route(conn, routes: list[tuple[str, str, int | None]]) -> int:
    """Turn audience rows into one row per destination: (audience, channel, chat) triples."""
    if not routes:
        return 0
    async with conn.transaction():
        rows = await conn.fetch(q("outbox_route"), [r[0] for r in routes], [r[1] for r in routes],
                                [r[2] for r in routes])
    return len(rows)


async def recover(conn, *, all_sending: bool, owner: str) -> list[int]:
    """Requeue what a vanished relay left 'sending' (marked as possible duplicates). New row ids.
    Rows `owner` itself has in flight are left alone."""
    async with conn.transaction():
        rows = await conn.fetch(q("outbox_recover"), all_sending, owner)
    return [r["id"] for r in rows]


async def claim(conn, owner: str, limit: int, lease: float, floor: int = 0) -> list[dict]:
    """Claim up to `limit` ready rows of the highest ready priority, oldest first; none if that
    priority is below `floor` (a higher one is still in flight)."""
    async with conn.transaction():
        rows = await conn.fetch(q("outbox_claim"), owner, limit, float(lease), floor)
    return sorted((dict(r) for r in rows), key=lambda r: r["id"])


async def render_inputs(conn, rows: list[dict]) -> tuple[dict[int, dict], dict[int, dict]]:
    """The alerts the rows are about, and the rows they edit or copy (for their header notes)."""
    alert_ids = sorted({r["alert_id"] for r in rows if r["alert_id"] is not None})
    src_ids = sorted({i for r in rows for i in (r["edit_of"], r["possible_duplicate_of"]) if i is not None})
    alerts = {}
    for a in await conn.fetch(q("alerts_by_ids"), alert_ids) if alert_ids else []:
        d = dict(a)
        d["staff"] = _load(d["staff"])
        d["sightings"] = _load(d["sightings"])
        alerts[d["id"]] = d
    sources = {r["id"]: dict(r) for r in await conn.fetch(q("outbox_sources"), src_ids)} if src_ids else {}
    return alerts, sources


async def mark_sent(conn, row: dict, owner: str, message_id: int | None, rendered_version: int | None = None) -> bool:
    """Record a delivery. If the alert changed after the text was rendered (a click, a re-post
    while the message was in flight), an edit of the new message is queued."""
    shows_alert = row["alert_id"] is not None and row["kind"] in ("page", "follow_up", "escalation")
    async with conn.transaction():
        version = await conn.fetchval(q("alerts_version_for_update"), row["alert_id"]) if shows_alert else None
        done = await conn.fetchrow(q("outbox_sent"), row["id"], owner, message_id)
        if done is not None and shows_alert:
            if row["kind"] == "page":
                await conn.execute(q("alerts_paged"), row["alert_id"])
            if rendered_version is not None and version is not None and version != rendered_version:
                await conn.execute(q("outbox_edit_one"), row["id"], PRIORITY_EDIT)
                await conn.execute(q("outbox_notify"))
    return done is not None


async def release(conn, row_id: int, owner: str, error: str, delay: float = 0.0) -> None:
    await conn.execute(q("outbox_release"), row_id, owner, error[:500], float(delay))


async def unconfirmed(conn, row_id: int, owner: str, error: str, delay: float = 0.0) -> int | None:
    """The send may have arrived: keep the row as 'unconfirmed', queue a marked copy. Its id."""
    async with conn.transaction():
        return await conn.fetchval(q("outbox_unconfirmed"), row_id, owner, error[:500], float(delay))


async def reroute(conn, row_id: int, owner: str, chat: int, error: str) -> None:
    await conn.execute(q("outbox_reroute"), row_id, owner, chat, error[:500])


async def dead(conn, row_id: int, owner: str, error: str) -> bool:
    return await conn.fetchval(q("outbox_dead"), row_id, owner, error[:500]) is not None


async def outbox_stats(conn) -> dict:
    row = await conn.fetchrow(q("outbox_stats"))
    return {"pending": row["pending"], "sending": row["sending"], "dead": row["dead"],
            "unconfirmed": row["unconfirmed"], "oldest": float(row["oldest"] or 0.0)}


# --------------------------------------------------------------------------- actions

@dataclass(slots=True, frozen=True)
class ActionResult:
    found: bool  # the alert exists
    changed: bool  # its state changed (False for a repeat or a replay)
    from_state: str | None = None
    to_state: str | None = None
    replay: bool = False  # this very request was handled before


async def act(conn, alert_id: int, action: str, *, actor: str, actor_id: int | None, via: str,
              request_id: str | None) -> ActionResult:
    """Acknowledge, mark false positive or escalate an alert; record who did it, when, how.

    Repeats change nothing (but are recorded); a replayed request (`request_id` seen before)
    records nothing. A change queues edits of the alert's messages, and an escalation its page.
    """
    target = ACTIONS[action]
    async with conn.transaction():
        row = await conn.fetchrow(q("alerts_for_update"), alert_id)
        if row is None:
            return ActionResult(found=False, changed=False)
        if request_id is not None:
            prev = await conn.fetchrow(q("alerts_action_of_request"), request_id)
            if prev is not None:
                return ActionResult(True, False, prev["from_state"], prev["to_state"], replay=True)
        changed = row["state"] != target
        rec = await conn.fetchval(q("alerts_action_insert"), alert_id, action, actor_id, actor[:64], via, changed,
                                  row["state"], target, request_id)
        if rec is None:
            return ActionResult(True, False, row["state"], target, replay=True)
        if changed:
            await conn.execute(q("alerts_set_state"), alert_id, target, actor[:64])
            if action == "escalate":
                await conn.fetchval(q("outbox_insert"), alert_id, "escalation", "escalation", PRIORITY_ESCALATION,
                                    f"Escalated by {actor[:64]}")
            await conn.execute(q("outbox_queue_edits"), alert_id, PRIORITY_EDIT)
            await conn.execute(q("outbox_notify"))
    return ActionResult(True, changed, row["state"], target)


async def record_refusal(conn, alert_id: int | None, action: str, *, actor: str, actor_id: int | None, via: str,
                         request_id: str | None) -> None:
    """Someone not on the allow-list pressed a button or sent a command: recorded, nothing changed."""
    async with conn.transaction():
        if alert_id is not None and await conn.fetchrow(q("alerts_for_update"), alert_id) is None:
            alert_id = None
        await conn.fetchval(q("alerts_action_insert"), alert_id, f"denied:{action}"[:40], actor_id, actor[:64], via,
                            False, None, None, request_id)


async def actions_of(conn, alert_id: int) -> list[dict]:
    return [dict(r) for r in await conn.fetch(q("alerts_actions_of"), alert_id)]


async def open_alerts(conn, limit: int = 10) -> tuple[dict[int, int], list[dict]]:
    """Open (or escalated) alerts: counts by severity and the most severe, newest first."""
    counts = {r["severity"]: r["n"] for r in await conn.fetch(q("alerts_open_counts"))}
    return counts, [dict(r) for r in await conn.fetch(q("alerts_open"), limit)]


async def alert(conn, alert_id: int) -> dict | None:
    alerts, _ = await render_inputs(conn, [{"alert_id": alert_id, "edit_of": None, "possible_duplicate_of": None}])
    return alerts.get(alert_id)


# --------------------------------------------------------------------------- escalation

async def escalate_due(conn, *, max_escalations: int, after_seconds: float) -> list[int]:
    """Queue an escalation page for each critical alert unacknowledged for too long. Alert ids."""
    async with conn.transaction():
        rows = await conn.fetch(q("alerts_escalate"), max_escalations, float(after_seconds), PRIORITY_ESCALATION)
        if rows:
            await conn.execute(q("outbox_notify"))
    return [r["alert_id"] for r in rows]


# --------------------------------------------------------------------------- Telegram state

async def get_state(conn, key: str) -> int | None:
    return await conn.fetchval(q("telegram_state_get"), key)


async def set_state(conn, key: str, value: int) -> None:
    await conn.execute(q("telegram_state_set"), key, value)


# --------------------------------------------------------------------------- operator alerts

async def sources_health(conn) -> list[dict]:
    return [dict(r) for r in await conn.fetch(q("alerts_sources_health"))]


async def match_backlog(conn) -> int:
    return await conn.fetchval(q("alerts_backlog"))


async def operator_conditions(conn, conditions: dict[str, str | None], *, every_seconds: float,
                              watched_prefixes: tuple[str, ...] = ()) -> list[str]:
    """Decide which operator messages to send now, rate-limited per condition, and queue them.

    `conditions` maps a condition key to its message when the condition holds, or None when it
    is known to be clear. A condition that starts, or still holds `every_seconds` after its
    last message, is sent; a cleared one is sent once as resolved. Keys not in `conditions`
    but active and under one of `watched_prefixes` count as cleared. Also reports dead outbox
    rows not yet reported. Everything decided is queued as ONE operator message (or none), in
    one transaction, so two replicas never both send it. Returns the lines queued.
    """
    lines: list[str] = []
    async with conn.transaction():
        conditions = dict(conditions)
        for r in await conn.fetch(q("operator_active")):
            if r["key"] not in conditions and r["key"].startswith(watched_prefixes):
                conditions[r["key"]] = None
        for key in sorted(conditions):
            message = conditions[key]
            await conn.execute(q("operator_ensure"), key)
            st = await conn.fetchrow(q("operator_lock"), key, float(every_seconds))
            if message is not None:
                send = bool(st["due"]) or not st["active"]
                if send:
                    extra = f" ({st['suppressed']} repeats held back)" if st["suppressed"] else ""
                    lines.append(("Still: " if st["active"] else "") + message + extra)
                await conn.execute(q("operator_update"), key, True, message[:500], send)
            elif st["active"]:
                lines.append(f"Resolved: {st['detail'] or key}")
                await conn.execute(q("operator_update"), key, False, None, True)
        await conn.execute(q("operator_ensure"), "outbox:dead")
        st = await conn.fetchrow(q("operator_lock"), "outbox:dead", float(every_seconds))
        if st["due"]:
            dead_rows = await conn.fetch(q("outbox_dead_unreported"))
            if dead_rows:
                lines.append(f"{len(dead_rows)} message{'s' if len(dead_rows) != 1 else ''} could not be delivered "
                             "and will not be retried:")
                for r in dead_rows[:10]:
                    what = f"alert #{r['alert_id']} {r['kind']}" if r["alert_id"] else r["kind"]
                    to = f"{r['audience']} chat" if r["audience"] else r["channel"]
                    lines.append(f"  #{r['id']} {what} to a {to}: {(r['last_error'] or '')[:160]}")
                if len(dead_rows) > 10:
                    lines.append(f"  ... and {len(dead_rows) - 10} more (outbox rows in state dead)")
                await conn.execute(q("outbox_dead_reported"), [r["id"] for r in dead_rows])
                await conn.execute(q("operator_update"), "outbox:dead", True, None, True)
        if lines:
            await conn.fetchval(q("outbox_insert"), None, "operator", "ops", PRIORITY_OPERATOR, "\n".join(lines))
            await conn.execute(q("outbox_notify"))
    return lines


# --------------------------------------------------------------------------- singletons

class Leadership(AdvisoryLocks):
    """Cluster-wide singletons (the relay, the update poller): session advisory locks held on
    one dedicated connection, which also LISTENs for new outbox rows.

    If the connection drops every lock on it is gone with it, and so is the right to send:
    `alive()` says so, and the holder stops until it acquires the lock again.
    """

    def __init__(self, dsn: str):
        super().__init__(dsn, "leakwatch.alerts")
        self._listeners: list = []

    async def _connected(self, conn: asyncpg.Connection) -> None:
        for cb in self._listeners:
            await conn.add_listener(NOTIFY_CHANNEL, cb)

    def on_notify(self, callback) -> None:
        """Call `callback()` when an outbox row is committed (a hint: the relay also polls)."""
        def cb(*_args):
            callback()
        self._listeners.append(cb)


async def create_pool(dsn: str, *, max_size: int = 4) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, command_timeout=30,
                                     max_inactive_connection_lifetime=300)
