-- Bookings, idempotency records, the outbox of durable jobs, and booking settings per agent.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.
--
-- SQLite has no exclusion constraints: the store checks overlaps inside a BEGIN IMMEDIATE
-- transaction, which holds the one write lock from the check to the commit.

-- The parent key of the (tenant_id, agent_id) foreign key of booking_settings.
CREATE UNIQUE INDEX agents_tenant_id ON agents (tenant_id, id);

CREATE TABLE bookings (
    id                    BLOB PRIMARY KEY NOT NULL,
    tenant_id             BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The agent that booked; checked by the store on insert, and kept as history when the
    -- agent is deleted (no foreign key).
    agent_id              BLOB,
    user_id               BLOB NOT NULL,
    confirmation_code     TEXT NOT NULL,
    start_at              INTEGER NOT NULL,
    end_at                INTEGER NOT NULL,
    buffer_before_minutes INTEGER NOT NULL CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes  INTEGER NOT NULL CHECK (buffer_after_minutes >= 0),
    -- [start - before, end + after), what overlaps are checked on.
    occupied_start_at     INTEGER NOT NULL
                          GENERATED ALWAYS AS (start_at - buffer_before_minutes * 60000000) STORED,
    occupied_end_at       INTEGER NOT NULL
                          GENERATED ALWAYS AS (end_at + buffer_after_minutes * 60000000) STORED,
    attendee_name         TEXT NOT NULL,
    attendee_email        TEXT,
    attendee_phone        TEXT,
    notes                 TEXT,
    title                 TEXT NOT NULL,
    description           TEXT,
    status                TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
    cancel_reason         TEXT,
    cancelled_at          INTEGER,
    call_id               TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    CHECK (end_at > start_at),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- A caller reads the code aloud to find the booking: one per tenant.
CREATE UNIQUE INDEX bookings_tenant_code ON bookings (tenant_id, confirmation_code);
-- Listing by time, and member stats per user.
CREATE INDEX bookings_tenant_start ON bookings (tenant_id, start_at);
CREATE INDEX bookings_user_start ON bookings (tenant_id, user_id, start_at);
-- Busy time and the overlap check: confirmed bookings' occupied ranges, keyed by end.
CREATE INDEX bookings_busy ON bookings (tenant_id, user_id, occupied_end_at, occupied_start_at)
    WHERE status = 'confirmed';

-- A booking's own calendar event, found on cancel and reschedule.
CREATE INDEX calendar_events_booking ON calendar_events (tenant_id, booking_id)
    WHERE booking_id IS NOT NULL;
-- Busy time no longer reads a booking's own event (its booking counts, with its buffers):
-- the index for busy_events repeats the new WHERE clause. It replaces calendar_events_busy.
CREATE INDEX calendar_events_blocking
    ON calendar_events (tenant_id, user_id, end_at, start_at, all_day, status, transparency,
                        source)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque'
      AND source <> 'booking';
DROP INDEX calendar_events_busy;

-- Idempotency-Key records: in progress while the first request runs, then its answer.
CREATE TABLE idempotency_keys (
    tenant_id    BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status       INTEGER,
    body         TEXT CHECK (body IS NULL OR json_valid(body)),
    created_at   INTEGER NOT NULL,
    -- When the in-progress owner claimed it: older than the stale limit means it died.
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key),
    CHECK (state <> 'done' OR (status IS NOT NULL AND body IS NOT NULL))
);

-- Durable jobs, written in the transaction of the change they follow from.
CREATE TABLE outbox (
    id              BLOB PRIMARY KEY NOT NULL,
    tenant_id       BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- Pending: when it may run. Running: when its lease ends (then it may be claimed again).
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- What claim_jobs and outbox_backlog read: only the live jobs, however long the history.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id)
    WHERE status IN ('pending', 'running');
CREATE INDEX outbox_tenant ON outbox (tenant_id, kind, created_at);

-- An agent's booking settings: the seed's JSON, kept whole.
CREATE TABLE booking_settings (
    tenant_id  BLOB NOT NULL,
    agent_id   BLOB NOT NULL,
    settings   TEXT NOT NULL CHECK (json_valid(settings)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, agent_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
