-- The pipeline: source -> documents -> match_jobs -> findings. Each stage reads one table
-- upstream and writes one downstream in one transaction.

-- One row per configured source: its cursor (saved with the items it led to) and its health.
CREATE TABLE IF NOT EXISTS sources (
    name                 text PRIMARY KEY,
    kind                 text NOT NULL,
    cursor               jsonb,
    last_poll_at         timestamptz,
    last_success_at      timestamptz,
    last_item_at         timestamptz,
    last_error           text,          -- the operator's message: host and problem, never a body
    last_error_at        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    polls                bigint  NOT NULL DEFAULT 0,
    errors               bigint  NOT NULL DEFAULT 0,
    items                bigint  NOT NULL DEFAULT 0,
    paused_until         timestamptz,   -- the upstream asked us to wait (Retry-After, rate limit)
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- Every fetched item. The body is kept (compressed) until matched; then dropped unless it
-- holds a finding, whose evidence is kept for [pipeline] retention_days.
CREATE TABLE IF NOT EXISTS documents (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,
    external_id   text NOT NULL,
    url           text,
    name          text NOT NULL,          -- file name hint for extraction
    published_at  timestamptz,
    fetched_at    timestamptz NOT NULL DEFAULT now(),
    content_hash  bytea NOT NULL,         -- SHA-256 of the body: identical content is matched once
    size          integer NOT NULL,
    body          bytea,                  -- zlib-compressed; NULL once dropped
    body_dropped_at timestamptz,
    UNIQUE (source, external_id)
);
CREATE INDEX IF NOT EXISTS documents_content_hash ON documents (content_hash);
CREATE INDEX IF NOT EXISTS documents_fetched_at ON documents (fetched_at);
CREATE INDEX IF NOT EXISTS documents_source_fetched ON documents (source, fetched_at);

-- One match job per document, claimed with FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE IF NOT EXISTS match_jobs (
    id           bigserial PRIMARY KEY,
    document_id  bigint NOT NULL UNIQUE REFERENCES documents (id),
    content_hash bytea NOT NULL,
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    not_before   timestamptz NOT NULL DEFAULT now(),
    lease_owner  text,
    lease_until  timestamptz,
    last_error   text,
    severity     smallint,                -- the outcome (leakwatch.models.Severity), set when done
    rejections   jsonb,                   -- extraction limits breached (kept when there is no finding)
    roster_version integer,               -- roster_imports.id the outcome was reached under
    duplicate_of bigint REFERENCES match_jobs (id),  -- same content matched by an earlier job
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    done_at      timestamptz
);
CREATE INDEX IF NOT EXISTS match_jobs_ready ON match_jobs (not_before, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS match_jobs_running ON match_jobs (lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS match_jobs_hash ON match_jobs (content_hash);
CREATE INDEX IF NOT EXISTS match_jobs_open ON match_jobs (state, created_at) WHERE state <> 'done';

-- The verdict on a document with something in it (severity low or above): refs, never names.
CREATE TABLE IF NOT EXISTS findings (
    id           bigserial PRIMARY KEY,
    job_id       bigint NOT NULL UNIQUE REFERENCES match_jobs (id),
    document_id  bigint NOT NULL REFERENCES documents (id),
    severity     smallint NOT NULL,
    score        real NOT NULL,
    staff_count  integer NOT NULL,
    staff        jsonb NOT NULL,          -- [{ref, kinds, confidence, rank, unit, sensitive, leaver}]
    credentials  jsonb NOT NULL,          -- masked: that a password was there, never the password
    reasons      jsonb NOT NULL,          -- plain words, public vocabulary only
    parts        jsonb NOT NULL,          -- per extracted part (archive member): severity, score, staff
    rejections   jsonb NOT NULL,          -- extraction limits breached
    duplicate_of bigint REFERENCES findings (id),  -- the same content, found earlier elsewhere
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS findings_created ON findings (created_at);
CREATE INDEX IF NOT EXISTS findings_severity ON findings (severity, created_at);
