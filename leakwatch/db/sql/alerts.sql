-- alerts_finding_input --
-- What the alerts stage reads of a finding: refs, ranks, units, kinds, counts; never a body.
SELECT f.id, f.severity, f.staff, f.credentials, f.reasons, f.duplicate_of, f.created_at,
       d.id AS document_id, d.source, d.url
FROM findings f JOIN documents d ON d.id = f.document_id
WHERE f.id = $1;

-- alerts_lock --
-- Findings are folded into alerts one at a time (a re-post finished by two workers at once
-- must not open two alerts). Held until the finding's transaction ends.
SELECT pg_advisory_xact_lock(hashtext('leakwatch.alerts'));

-- alerts_of_finding --
SELECT * FROM alerts WHERE finding_ids @> ARRAY[$1::bigint] ORDER BY id LIMIT 1;

-- alerts_by_digest --
SELECT * FROM alerts
WHERE digests @> ARRAY[$1::bytea] AND last_seen > now() - make_interval(days => $2)
ORDER BY id DESC LIMIT 1;

-- alerts_near_duplicate --
-- The recent alert whose tokens (staff refs, credential tokens) overlap most, by Jaccard.
SELECT a.*, s.similarity
FROM alerts a,
     LATERAL (SELECT (SELECT count(*) FROM (SELECT unnest(a.tokens) INTERSECT SELECT unnest($1::text[])) i)::float8
                   / greatest((SELECT count(*) FROM (SELECT unnest(a.tokens) UNION SELECT unnest($1::text[])) u), 1)
                     AS similarity) s
WHERE a.tokens && $1::text[] AND a.last_seen > now() - make_interval(days => $2) AND s.similarity >= $3
ORDER BY s.similarity DESC, a.id DESC
LIMIT 1;

-- alerts_insert --
INSERT INTO alerts (finding_ids, severity, first_severity, digests, tokens, staff, credentials, why,
                    source, url, document_id, critical_since)
VALUES (ARRAY[$1::bigint], $2::smallint, $2::smallint, ARRAY[$3::bytea], $4, $5, $6, $7, $8, $9, $10,
        CASE WHEN $2::smallint >= 4 THEN now() END)
RETURNING id;

-- alerts_fold --
-- A re-post or near-duplicate: the alert grows (findings, staff, severity) and is seen again.
UPDATE alerts SET finding_ids = finding_ids || $2::bigint,
       severity = greatest(severity, $3::smallint),
       why = CASE WHEN $3::smallint > severity THEN $4 ELSE why END,
       digests = CASE WHEN digests @> ARRAY[$5::bytea] THEN digests ELSE digests || $5::bytea END,
       tokens = $6, staff = $7, credentials = $8, sightings = $9,
       last_seen = now(), seen_count = seen_count + 1,
       critical_since = CASE WHEN critical_since IS NULL AND $3::smallint >= 4 THEN now() ELSE critical_since END,
       version = version + 1, updated_at = now()
WHERE id = $1;

-- outbox_insert --
INSERT INTO outbox (alert_id, kind, audience, priority, body) VALUES ($1, $2, $3, $4, $5) RETURNING id;

-- outbox_notify --
SELECT pg_notify('leakwatch_outbox', '');

-- outbox_queue_edits --
-- Show an alert's new state on every Telegram message already sent for it. One pending edit
-- per message: the text is rendered when the edit is sent, so later changes ride on it.
INSERT INTO outbox (alert_id, kind, channel, chat, priority, edit_of, message_id)
SELECT o.alert_id, 'edit', 'telegram', o.chat, $2, o.id, o.message_id
FROM outbox o
WHERE o.alert_id = $1 AND o.state = 'sent' AND o.channel = 'telegram'
  AND o.kind IN ('page', 'follow_up', 'escalation') AND o.message_id IS NOT NULL
ORDER BY o.id
ON CONFLICT (edit_of) WHERE state = 'pending' AND kind = 'edit' DO NOTHING;

-- outbox_route --
-- Audience rows become one row per destination ($1 audience, $2 channel, $3 chat, in step).
WITH src AS (
    UPDATE outbox o SET state = 'routed'
    WHERE o.id IN (SELECT id FROM outbox WHERE state = 'pending' AND channel IS NULL
                   ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)
    RETURNING o.*
)
INSERT INTO outbox (alert_id, kind, audience, channel, chat, priority, body, routed_from, created_at)
SELECT s.alert_id, s.kind, s.audience, r.channel, r.chat, s.priority, s.body, s.id, s.created_at
FROM src s JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS r (audience, channel, chat)
     ON r.audience = s.audience
ORDER BY s.id
RETURNING id;

-- outbox_recover --
-- Rows left 'sending' by a relay that is gone ($1: any such row, because this relay just took
-- the relay lock and no other relay can be sending; else only rows whose lease expired).
-- They may have been delivered: each becomes 'unconfirmed' and a copy marked as a possible
-- duplicate is queued. An edit is simply queued again (editing twice changes nothing).
WITH stale AS (
    UPDATE outbox o SET state = 'unconfirmed', lease_owner = NULL, lease_until = NULL,
           last_error = 'relay stopped between send and record'
    WHERE o.id IN (SELECT id FROM outbox WHERE state = 'sending' AND ($1 OR lease_until < now())
                     AND lease_owner IS DISTINCT FROM $2
                   FOR UPDATE SKIP LOCKED)
    RETURNING o.*
)
INSERT INTO outbox (alert_id, kind, audience, channel, chat, priority, body, edit_of, message_id,
                    routed_from, possible_duplicate_of, created_at)
SELECT alert_id, kind, audience, channel, chat, priority, body, edit_of,
       CASE WHEN kind = 'edit' THEN message_id END, routed_from,
       CASE WHEN kind = 'edit' THEN NULL ELSE coalesce(possible_duplicate_of, id) END, created_at
FROM stale ORDER BY id
ON CONFLICT (edit_of) WHERE state = 'pending' AND kind = 'edit' DO NOTHING
RETURNING id, possible_duplicate_of;

-- outbox_unconfirmed --
-- A send that failed after the request may have reached Telegram (a read timeout, a dropped
-- connection): the row is 'unconfirmed' and a copy marked as a possible duplicate is queued.
WITH stale AS (
    UPDATE outbox o SET state = 'unconfirmed', lease_owner = NULL, lease_until = NULL, last_error = $3
    WHERE o.id = $1 AND o.lease_owner = $2 AND o.state = 'sending'
    RETURNING o.*
)
INSERT INTO outbox (alert_id, kind, audience, channel, chat, priority, body, edit_of, message_id,
                    routed_from, possible_duplicate_of, created_at, not_before)
SELECT alert_id, kind, audience, channel, chat, priority, body, edit_of,
       CASE WHEN kind = 'edit' THEN message_id END, routed_from,
       CASE WHEN kind = 'edit' THEN NULL ELSE coalesce(possible_duplicate_of, id) END, created_at,
       now() + make_interval(secs => $4)
FROM stale
ON CONFLICT (edit_of) WHERE state = 'pending' AND kind = 'edit' DO NOTHING
RETURNING id;

-- outbox_claim --
-- The oldest ready rows of the highest ready priority only, and none while a higher priority
-- ($4) is in flight: after an outage every critical page goes out before the first high one.
WITH top AS (
    SELECT max(priority) AS p FROM outbox
    WHERE state = 'pending' AND channel IS NOT NULL AND not_before <= now()
), picked AS (
    SELECT o.id FROM outbox o, top
    WHERE o.state = 'pending' AND o.channel IS NOT NULL AND o.not_before <= now() AND o.priority = top.p
      AND top.p >= $4
    ORDER BY o.id
    LIMIT $2
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox o SET state = 'sending', lease_owner = $1, lease_until = now() + make_interval(secs => $3),
       attempts = o.attempts + 1
FROM picked WHERE o.id = picked.id
RETURNING o.*;

-- outbox_sources --
-- What a row's text is made of: the row it edits or copies (its kind and note).
SELECT id, kind, body, possible_duplicate_of FROM outbox WHERE id = ANY($1::bigint[]);

-- alerts_by_ids --
SELECT * FROM alerts WHERE id = ANY($1::bigint[]);

-- outbox_sent --
UPDATE outbox SET state = 'sent', sent_at = now(), message_id = coalesce($3, message_id),
       lease_owner = NULL, lease_until = NULL, last_error = NULL
WHERE id = $1 AND lease_owner = $2 AND state = 'sending'
RETURNING alert_id, kind;

-- alerts_version_for_update --
-- Taken before recording a sent page: a click or a re-post handled meanwhile waits, or has
-- already bumped the version the page was rendered from.
SELECT version FROM alerts WHERE id = $1 FOR UPDATE;

-- outbox_edit_one --
-- The alert changed while its page was in flight: show the change on that message too.
INSERT INTO outbox (alert_id, kind, channel, chat, priority, edit_of, message_id)
SELECT alert_id, 'edit', 'telegram', chat, $2, id, message_id FROM outbox
WHERE id = $1 AND channel = 'telegram' AND message_id IS NOT NULL
ON CONFLICT (edit_of) WHERE state = 'pending' AND kind = 'edit' DO NOTHING;

-- alerts_paged --
-- The first page delivered starts the escalation clock.
UPDATE alerts SET paged_at = coalesce(paged_at, now()) WHERE id = $1;

-- outbox_release --
-- A send that did not reach Telegram (refused, rate-limited, an error answer): try again.
UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL, last_error = $3,
       not_before = now() + make_interval(secs => $4)
WHERE id = $1 AND lease_owner = $2 AND state = 'sending';

-- outbox_reroute --
-- The group became a supergroup: the same row goes to its new chat id.
UPDATE outbox SET state = 'pending', chat = $3, lease_owner = NULL, lease_until = NULL, last_error = $4
WHERE id = $1 AND lease_owner = $2 AND state = 'sending';

-- outbox_dead --
UPDATE outbox SET state = 'dead', lease_owner = NULL, lease_until = NULL, last_error = $3
WHERE id = $1 AND lease_owner = $2 AND state = 'sending'
RETURNING id;

-- outbox_stats --
SELECT count(*) FILTER (WHERE state = 'pending')                       AS pending,
       count(*) FILTER (WHERE state = 'sending')                       AS sending,
       count(*) FILTER (WHERE state = 'dead')                          AS dead,
       count(*) FILTER (WHERE state = 'unconfirmed')                   AS unconfirmed,
       extract(epoch FROM now() - min(created_at) FILTER (WHERE state IN ('pending', 'sending'))) AS oldest
FROM outbox WHERE state <> 'sent' AND state <> 'routed';

-- alerts_escalate --
-- Critical alerts unacknowledged $2 seconds after their page (or their last escalation), up to
-- $1 escalations each. Runs in every replica: the row locks make each escalation happen once.
WITH due AS (
    UPDATE alerts a SET escalations = a.escalations + 1, last_escalation_at = now(), version = a.version + 1,
           updated_at = now()
    WHERE a.id IN (SELECT id FROM alerts
                   WHERE severity >= 4 AND state IN ('open', 'escalated') AND paged_at IS NOT NULL
                     AND escalations < $1
                     AND coalesce(last_escalation_at, paged_at) <= now() - make_interval(secs => $2)
                   FOR UPDATE SKIP LOCKED)
    RETURNING a.id, a.escalations
)
INSERT INTO outbox (alert_id, kind, audience, priority, body)
SELECT id, 'escalation', 'escalation', $3,
       format('Escalation %s of %s: critical alert not acknowledged', escalations, $1)
FROM due ORDER BY id
RETURNING alert_id;

-- alerts_for_update --
SELECT id, state, severity FROM alerts WHERE id = $1 FOR UPDATE;

-- alerts_action_insert --
-- NULL when this request was recorded before (a replayed update): nothing is done twice.
INSERT INTO alert_actions (alert_id, action, actor_id, actor, via, changed, from_state, to_state, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (request_id) DO NOTHING
RETURNING id;

-- alerts_action_of_request --
SELECT alert_id, action, changed, from_state, to_state FROM alert_actions WHERE request_id = $1;

-- alerts_set_state --
UPDATE alerts SET state = $2, acted_by = $3, acted_at = now(), version = version + 1, updated_at = now()
WHERE id = $1;

-- alerts_actions_of --
SELECT action, actor, via, changed, from_state, to_state, at FROM alert_actions WHERE alert_id = $1 ORDER BY id;

-- alerts_open --
SELECT id, severity, state, jsonb_array_length(staff) AS staff_count, source, first_seen, last_seen, seen_count
FROM alerts WHERE state IN ('open', 'escalated')
ORDER BY severity DESC, id DESC
LIMIT $1;

-- alerts_open_counts --
SELECT severity, count(*) AS n FROM alerts WHERE state IN ('open', 'escalated') GROUP BY severity;

-- telegram_state_get --
SELECT value FROM telegram_state WHERE key = $1;

-- telegram_state_set --
INSERT INTO telegram_state (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = greatest(telegram_state.value, EXCLUDED.value), updated_at = now();

-- operator_ensure --
INSERT INTO operator_alerts (key) VALUES ($1) ON CONFLICT (key) DO NOTHING;

-- operator_lock --
-- The rate-limit row of one operator condition, locked: one replica decides at a time.
SELECT key, active, last_sent_at, suppressed, detail,
       (last_sent_at IS NULL OR last_sent_at <= now() - make_interval(secs => $2)) AS due
FROM operator_alerts WHERE key = $1 FOR UPDATE;

-- operator_update --
UPDATE operator_alerts SET active = $2, detail = $3, updated_at = now(),
       last_sent_at = CASE WHEN $4 THEN now() ELSE last_sent_at END,
       suppressed = CASE WHEN $4 THEN 0 WHEN $2 THEN suppressed + 1 ELSE suppressed END
WHERE key = $1;

-- operator_active --
SELECT key, detail, last_sent_at FROM operator_alerts WHERE active;

-- outbox_dead_unreported --
SELECT o.id, o.alert_id, o.kind, o.audience, o.channel, o.last_error, o.created_at
FROM outbox o
WHERE o.state = 'dead' AND o.reported_at IS NULL AND o.kind <> 'operator'
ORDER BY o.id
LIMIT 50
FOR UPDATE SKIP LOCKED;

-- outbox_dead_reported --
UPDATE outbox SET reported_at = now() WHERE id = ANY($1::bigint[]);

-- alerts_sources_health --
SELECT name, kind, last_success_at, last_error_at, consecutive_failures, paused_until, created_at,
       extract(epoch FROM now() - coalesce(last_success_at, created_at)) AS silent_seconds
FROM sources ORDER BY name;

-- alerts_backlog --
SELECT count(*) FROM match_jobs WHERE state IN ('pending', 'running');
