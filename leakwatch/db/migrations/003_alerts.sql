-- Alerts and their delivery: findings -> alerts -> outbox -> Telegram (or a webhook, or the log).
-- Nothing here holds roster plaintext or leaked text: refs, counts, public words, ids.

-- One alert per leak. Re-posts of the same content, the same staff set or a near-duplicate
-- staff set fold into the open alert (a sighting) instead of paging again.
CREATE TABLE IF NOT EXISTS alerts (
    id                  bigserial PRIMARY KEY,
    finding_ids         bigint[] NOT NULL,        -- every finding folded in, the first one first
    severity            smallint NOT NULL,        -- the highest seen (leakwatch.models.Severity)
    first_severity      smallint NOT NULL,
    state               text NOT NULL DEFAULT 'open'
                        CHECK (state IN ('open', 'acknowledged', 'false_positive', 'escalated')),
    digests             bytea[] NOT NULL,         -- SHA-256 of each staff set folded in: the same set again
    tokens              text[] NOT NULL,          -- staff refs and credential tokens: near-duplicate search
    staff               jsonb NOT NULL,           -- [{ref, kinds, rank, unit, sensitive, leaver}], union
    credentials         integer NOT NULL DEFAULT 0,
    why                 text,                     -- the engine's severity reason, public words
    source              text NOT NULL,            -- where it was first seen (documents.source)
    url                 text,
    document_id         bigint REFERENCES documents (id),
    first_seen          timestamptz NOT NULL DEFAULT now(),
    last_seen           timestamptz NOT NULL DEFAULT now(),
    seen_count          integer NOT NULL DEFAULT 1,
    sightings           jsonb NOT NULL DEFAULT '[]',  -- latest re-posts: [{source, url, at, finding_id}]
    critical_since      timestamptz,              -- when it became critical
    paged_at            timestamptz,              -- first page confirmed delivered (escalation clock)
    escalations         integer NOT NULL DEFAULT 0,
    last_escalation_at  timestamptz,
    acted_by            text,                     -- the last state change: who (a handle), when
    acted_at            timestamptz,
    version             integer NOT NULL DEFAULT 1,  -- bumped by every change a page shows
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alerts_digests ON alerts USING gin (digests);
CREATE INDEX IF NOT EXISTS alerts_tokens ON alerts USING gin (tokens);
CREATE INDEX IF NOT EXISTS alerts_findings ON alerts USING gin (finding_ids);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (severity, state) WHERE state IN ('open', 'escalated');

-- What is to be delivered. A row is written in the transaction that decides it (the finding,
-- the escalation, the click), so nothing decided is lost; the relay sends it at least once.
-- Rows for an audience (chat NULL, channel NULL) are routed by the relay into one row per
-- chat (state 'routed'), because only the notifier knows the configured chats.
CREATE TABLE IF NOT EXISTS outbox (
    id                    bigserial PRIMARY KEY,
    alert_id              bigint REFERENCES alerts (id),
    kind                  text NOT NULL CHECK (kind IN ('page', 'follow_up', 'escalation', 'operator', 'edit')),
    audience              text CHECK (audience IN ('critical', 'high', 'ops', 'escalation')),
    channel               text CHECK (channel IN ('telegram', 'webhook', 'log')),
    chat                  bigint,                 -- Telegram chat id (channel telegram)
    priority              smallint NOT NULL,      -- higher first: critical pages before the rest
    state                 text NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'unconfirmed', 'routed')),
    attempts              integer NOT NULL DEFAULT 0,
    not_before            timestamptz NOT NULL DEFAULT now(),
    lease_owner           text,
    lease_until           timestamptz,
    message_id            bigint,                 -- Telegram's id of the sent message
    edit_of               bigint REFERENCES outbox (id),   -- kind edit: the sent row whose message to edit
    routed_from           bigint REFERENCES outbox (id),
    possible_duplicate_of bigint REFERENCES outbox (id),   -- an earlier send of this that may have arrived
    body                  text,                   -- operator text or a page's header note: public words
    created_at            timestamptz NOT NULL DEFAULT now(),
    sent_at               timestamptz,
    last_error            text,                   -- the API's description, never a token
    reported_at           timestamptz             -- dead rows: when the operators were told
);
CREATE INDEX IF NOT EXISTS outbox_ready ON outbox (priority DESC, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_sending ON outbox (lease_until) WHERE state = 'sending';
CREATE INDEX IF NOT EXISTS outbox_alert ON outbox (alert_id);
CREATE INDEX IF NOT EXISTS outbox_dead ON outbox (id) WHERE state = 'dead' AND reported_at IS NULL;
-- One pending edit per message: later changes ride on it (the text is rendered when sent).
CREATE UNIQUE INDEX IF NOT EXISTS outbox_one_pending_edit ON outbox (edit_of)
    WHERE state = 'pending' AND kind = 'edit';

-- Who did what to which alert, when: buttons, commands, the web UI, and refusals.
CREATE TABLE IF NOT EXISTS alert_actions (
    id          bigserial PRIMARY KEY,
    alert_id    bigint REFERENCES alerts (id),
    action      text NOT NULL,                    -- acknowledge, false_positive, escalate, denied
    actor_id    bigint,                           -- Telegram user id (or NULL for the web UI)
    actor       text NOT NULL,                    -- @handle or first name; never shown with the id
    via         text NOT NULL,                    -- button, command, web
    changed     boolean NOT NULL,                 -- false: a repeat, or refused
    from_state  text,
    to_state    text,
    request_id  text UNIQUE,                      -- callback query / update id: replays record nothing twice
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alert_actions_alert ON alert_actions (alert_id, at);

-- Small singleton state of the Telegram side: the getUpdates offset.
CREATE TABLE IF NOT EXISTS telegram_state (
    key        text PRIMARY KEY,
    value      bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Operator alerts, rate-limited per condition ("source:pastebin:failing", "backlog", ...).
CREATE TABLE IF NOT EXISTS operator_alerts (
    key          text PRIMARY KEY,
    active       boolean NOT NULL DEFAULT false,
    last_sent_at timestamptz,
    suppressed   integer NOT NULL DEFAULT 0,      -- times it fired while rate-limited
    detail       text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
