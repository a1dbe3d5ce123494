-- Roster held as keyed hashes only: no name, number or address is stored here.
CREATE TABLE IF NOT EXISTS meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS staff (
    id          serial PRIMARY KEY,
    ref         text NOT NULL UNIQUE,           -- keyed hash of HR's staff id
    rank        text,                           -- not identifiers: kept in the clear, they drive severity
    unit        text,
    vetting     text,
    sensitive   boolean NOT NULL DEFAULT false, -- unit is one of the configured sensitive units
    active      boolean NOT NULL DEFAULT true,
    left_at     timestamptz,                    -- set when a --replace import no longer lists them
    digest      bytea NOT NULL,                 -- hash of this row's entries: tells "unchanged" on re-import
    entry_keys  bytea NOT NULL,                 -- keyed-hash index entries, big-endian int64s; each
    entry_tags  bytea NOT NULL,                 -- (field, kind) group padded with random keys (one tag byte each)
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Keyed hashes of every name token on the roster, unlinked to staff: the scanner's prefilter.
CREATE TABLE IF NOT EXISTS name_tokens (
    key bigint PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS roster_imports (
    id          serial PRIMARY KEY,
    imported_at timestamptz NOT NULL DEFAULT now(),
    replace     boolean NOT NULL,
    enrolled    integer NOT NULL,
    updated     integer NOT NULL,
    unchanged   integer NOT NULL,
    deactivated integer NOT NULL,
    rejected    integer NOT NULL,
    entries     jsonb NOT NULL                  -- counts by field, nothing identifying
);
