-- ensure_source --
INSERT INTO sources (name, kind) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind
RETURNING cursor, paused_until;

-- insert_document --
-- Returns the new id, or nothing when (source, external_id) is already stored.
INSERT INTO documents (source, external_id, url, name, published_at, content_hash, size, body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (source, external_id) DO NOTHING
RETURNING id;

-- insert_job --
INSERT INTO match_jobs (document_id, content_hash) VALUES ($1, $2);

-- source_stored --
UPDATE sources SET cursor = $2, last_poll_at = now(), last_success_at = now(),
       consecutive_failures = 0, polls = polls + 1, items = items + $3,
       last_item_at = CASE WHEN $3 > 0 THEN now() ELSE last_item_at END,
       paused_until = CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $4) END
WHERE name = $1;

-- source_failed --
UPDATE sources SET last_poll_at = now(), last_error = $2, last_error_at = now(),
       consecutive_failures = consecutive_failures + 1, polls = polls + 1, errors = errors + 1,
       paused_until = CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3) END
WHERE name = $1
RETURNING consecutive_failures;

-- source_health --
SELECT s.name, s.kind, s.last_poll_at, s.last_success_at, s.last_item_at, s.last_error, s.last_error_at,
       s.consecutive_failures, s.polls, s.errors, s.items, s.paused_until, s.created_at,
       (s.cursor IS NOT NULL) AS has_cursor,
       (SELECT count(*) FROM documents d
        WHERE d.source = s.name AND d.fetched_at > now() - interval '1 hour') AS items_last_hour
FROM sources s ORDER BY s.name;

-- claim_jobs --
-- Pending jobs whose time has come and expired leases of crashed workers, oldest first.
-- A job waits while an earlier job of identical content is unfinished: content is matched
-- once, and the later job reuses the outcome.
WITH picked AS (
    SELECT j.id FROM match_jobs j
    WHERE ((j.state = 'pending' AND j.not_before <= now())
           OR (j.state = 'running' AND j.lease_until < now()))
      AND NOT EXISTS (SELECT 1 FROM match_jobs o
                      WHERE o.content_hash = j.content_hash AND o.id < j.id
                        AND o.state IN ('pending', 'running'))
    ORDER BY j.id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE match_jobs j SET state = 'running', lease_owner = $1,
       lease_until = now() + make_interval(secs => $3), attempts = j.attempts + 1,
       started_at = coalesce(j.started_at, now())
FROM picked WHERE j.id = picked.id
RETURNING j.id, j.document_id, j.content_hash, j.attempts;

-- job_inputs --
SELECT d.id, d.source, d.name, d.url, d.body, d.fetched_at FROM documents d WHERE d.id = ANY($1::bigint[]);

-- earlier_result --
-- An earlier job that already matched the same content: its outcome and finding, if any.
SELECT j.id AS job_id, j.severity, f.id AS finding_id
FROM match_jobs j LEFT JOIN findings f ON f.job_id = j.id
WHERE j.content_hash = $1 AND j.state = 'done' AND j.duplicate_of IS NULL AND j.id <> $2
  AND j.roster_version = (SELECT coalesce(max(id), 0) FROM roster_imports)  -- matched against this roster
ORDER BY j.id DESC LIMIT 1;

-- extend_leases --
UPDATE match_jobs SET lease_until = now() + make_interval(secs => $3)
WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND state = 'running';

-- finish_job --
-- Only the lease holder may finish: a worker whose lease expired (and whose job another
-- took over) finishes nothing, and its transaction is rolled back.
UPDATE match_jobs SET state = 'done', severity = $3, duplicate_of = $4, done_at = now(),
       lease_owner = NULL, lease_until = NULL, last_error = NULL, rejections = $5, roster_version = $6
WHERE id = $1 AND lease_owner = $2 AND state = 'running'
RETURNING id;

-- insert_finding --
INSERT INTO findings (job_id, document_id, severity, score, staff_count, staff, credentials, reasons,
                      parts, rejections, duplicate_of)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id, created_at;

-- copy_finding --
INSERT INTO findings (job_id, document_id, severity, score, staff_count, staff, credentials, reasons,
                      parts, rejections, duplicate_of)
SELECT $1, $2, severity, score, staff_count, staff, credentials, reasons, parts, rejections, id
FROM findings WHERE id = $3
RETURNING id, created_at;

-- drop_body --
UPDATE documents SET body = NULL, body_dropped_at = now() WHERE id = $1 AND body IS NOT NULL;

-- fail_job --
-- Back to pending after a backoff, or dead after the last attempt (kept, with its body, for an operator).
UPDATE match_jobs SET state = CASE WHEN attempts >= $4 THEN 'dead' ELSE 'pending' END,
       not_before = now() + make_interval(secs => $5), last_error = $3,
       lease_owner = NULL, lease_until = NULL
WHERE id = $1 AND lease_owner = $2
RETURNING state;

-- release_jobs --
-- Shutdown: hand back what this worker holds, without counting the attempt.
UPDATE match_jobs SET state = 'pending', lease_owner = NULL, lease_until = NULL,
       attempts = greatest(attempts - 1, 0), not_before = now()
WHERE lease_owner = $1 AND state = 'running' AND id = ANY($2::bigint[]);

-- queue_stats --
SELECT count(*) FILTER (WHERE state IN ('pending', 'running'))           AS depth,
       count(*) FILTER (WHERE state = 'running')                         AS running,
       count(*) FILTER (WHERE state = 'dead')                            AS dead,
       extract(epoch FROM now() - min(created_at) FILTER (WHERE state IN ('pending', 'running'))) AS oldest
FROM match_jobs WHERE state <> 'done';

-- retry_dead --
UPDATE match_jobs SET state = 'pending', attempts = 0, not_before = now(), last_error = NULL
WHERE state = 'dead' RETURNING id;

-- janitor_due --
-- Scheduled work runs once cluster-wide: the replica that moves the clock in `meta` does it,
-- the others see it was done within the hour.
INSERT INTO meta (key, value) VALUES ('retention_ran_at', now()::text)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
WHERE meta.value::timestamptz < now() - make_interval(secs => $1)
RETURNING true;

-- expire_bodies --
-- Retention: evidence of findings kept for $1 days, then only the metadata remains.
UPDATE documents d SET body = NULL, body_dropped_at = now()
WHERE d.body IS NOT NULL AND d.fetched_at < now() - make_interval(days => $1)
  AND EXISTS (SELECT 1 FROM match_jobs j WHERE j.document_id = d.id AND j.state = 'done');

-- list_findings --
SELECT f.id, f.created_at, f.severity, f.score, f.staff_count, f.staff, f.credentials, f.reasons,
       f.parts, f.rejections, f.duplicate_of, d.source, d.url, d.external_id, d.fetched_at, d.published_at
FROM findings f JOIN documents d ON d.id = f.document_id
WHERE f.id IN (SELECT id FROM findings WHERE created_at >= $1 AND severity >= $2 ORDER BY id DESC LIMIT $3)
ORDER BY f.id;

-- roster_version --
SELECT coalesce(max(id), 0) FROM roster_imports;

-- latest_finding_id --
SELECT coalesce(max(id), 0) FROM findings;

-- next_page_finding --
SELECT id FROM findings WHERE id > $1 AND severity >= $2 ORDER BY id LIMIT 1;
