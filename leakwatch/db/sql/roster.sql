-- get_meta --
SELECT value FROM meta WHERE key = $1;

-- set_meta --
INSERT INTO meta (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

-- lock_roster --
SELECT pg_advisory_xact_lock(hashtext('leakwatch.roster'));

-- create_incoming --
CREATE TEMP TABLE incoming_staff (
    ref text, rank text, unit text, vetting text, sensitive boolean, digest bytea, entry_keys bytea, entry_tags bytea
) ON COMMIT DROP;
CREATE TEMP TABLE incoming_tokens (key bigint) ON COMMIT DROP;

-- count_changes --
SELECT
    count(*) FILTER (WHERE s.id IS NULL)                                     AS new,
    count(*) FILTER (WHERE s.id IS NOT NULL AND (s.digest <> i.digest OR NOT s.active
                     OR s.rank IS DISTINCT FROM i.rank OR s.unit IS DISTINCT FROM i.unit
                     OR s.vetting IS DISTINCT FROM i.vetting OR s.sensitive <> i.sensitive)) AS updated,
    count(*) FILTER (WHERE s.id IS NOT NULL AND s.digest = i.digest AND s.active
                     AND s.rank IS NOT DISTINCT FROM i.rank AND s.unit IS NOT DISTINCT FROM i.unit
                     AND s.vetting IS NOT DISTINCT FROM i.vetting AND s.sensitive = i.sensitive) AS unchanged
FROM incoming_staff i LEFT JOIN staff s ON s.ref = i.ref;

-- upsert_staff --
INSERT INTO staff (ref, rank, unit, vetting, sensitive, digest, entry_keys, entry_tags)
SELECT ref, rank, unit, vetting, sensitive, digest, entry_keys, entry_tags FROM incoming_staff
ON CONFLICT (ref) DO UPDATE SET
    rank = EXCLUDED.rank, unit = EXCLUDED.unit, vetting = EXCLUDED.vetting,
    sensitive = EXCLUDED.sensitive, digest = EXCLUDED.digest,
    entry_keys = EXCLUDED.entry_keys, entry_tags = EXCLUDED.entry_tags,
    active = true, left_at = NULL, updated_at = now()
WHERE staff.digest <> EXCLUDED.digest OR NOT staff.active
   OR staff.rank IS DISTINCT FROM EXCLUDED.rank OR staff.unit IS DISTINCT FROM EXCLUDED.unit
   OR staff.vetting IS DISTINCT FROM EXCLUDED.vetting OR staff.sensitive <> EXCLUDED.sensitive;

-- insert_tokens --
INSERT INTO name_tokens (key) SELECT DISTINCT key FROM incoming_tokens
ON CONFLICT (key) DO NOTHING;

-- deactivate_missing --
UPDATE staff SET active = false, left_at = now(), updated_at = now()
WHERE active AND NOT EXISTS (SELECT 1 FROM incoming_staff i WHERE i.ref = staff.ref);

-- record_import --
INSERT INTO roster_imports (replace, enrolled, updated, unchanged, deactivated, rejected, entries)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb);

-- load_staff --
-- Active staff, and leavers still inside the watch period.
SELECT ref, rank, unit, vetting, sensitive, NOT active AS leaver, entry_keys, entry_tags
FROM staff
WHERE active OR left_at > now() - make_interval(days => $1)
ORDER BY id;

-- load_staff_table --
-- What load_staff returns without the entries: for checking an index snapshot on disk.
SELECT ref, rank, unit, vetting, sensitive, NOT active AS leaver, digest
FROM staff
WHERE active OR left_at > now() - make_interval(days => $1)
ORDER BY id;

-- load_name_tokens --
SELECT key FROM name_tokens;

-- roster_stats --
SELECT
    count(*) FILTER (WHERE active)                      AS active,
    count(*) FILTER (WHERE NOT active)                  AS leavers,
    count(*) FILTER (WHERE sensitive AND active)        AS sensitive,
    (SELECT count(*) FROM name_tokens)                  AS name_tokens,
    (SELECT count(*) FROM roster_imports)               AS imports,
    (SELECT max(imported_at) FROM roster_imports)       AS last_import
FROM staff;

-- entries_by_tag --
SELECT get_byte(entry_tags, i) AS tag, count(*) AS n
FROM staff, generate_series(0, length(entry_tags) - 1) AS i
WHERE active
GROUP BY 1 ORDER BY 1;
