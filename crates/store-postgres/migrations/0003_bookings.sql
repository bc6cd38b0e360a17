-- Bookings, idempotency records, the outbox of durable jobs, and booking settings per agent;
-- walled off per tenant by row-level security like everything before.
-- Never edit a migration once it has landed: add a new one.

-- The exclusion constraint below compares user ids (=) and ranges (&&) in one GiST index, and
-- GiST has no = for uuid without btree_gist. btree_gist is a trusted extension (PostgreSQL 13+):
-- a database owner may create it; otherwise a superuser must, once per database.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gist') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS btree_gist;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the btree_gist extension is missing and % may not create it',
                current_user
                USING HINT = 'as a superuser, run CREATE EXTENSION btree_gist in this database';
        END;
    END IF;
END
$$;

-- The parent key of the (tenant_id, agent_id) foreign key of booking_settings.
ALTER TABLE agents ADD CONSTRAINT agents_tenant_id UNIQUE (tenant_id, id);

CREATE TABLE bookings (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL
                          CONSTRAINT bookings_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    -- The agent that booked; checked by the store on insert, and kept as history when the
    -- agent is deleted (no foreign key).
    agent_id              uuid,
    user_id               uuid NOT NULL,
    confirmation_code     text NOT NULL,
    start_at              timestamptz NOT NULL,
    end_at                timestamptz NOT NULL,
    buffer_before_minutes integer NOT NULL CONSTRAINT bookings_buffer_before_check
                          CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes  integer NOT NULL CONSTRAINT bookings_buffer_after_check
                          CHECK (buffer_after_minutes >= 0),
    -- [start - before, end + after): written by the store, held to the buffers by the CHECK
    -- (minutes-only intervals do not depend on the session's zone).
    occupied_start_at     timestamptz NOT NULL,
    occupied_end_at       timestamptz NOT NULL,
    occupied              tstzrange NOT NULL
                          GENERATED ALWAYS AS
                          (tstzrange(occupied_start_at, occupied_end_at, '[)')) STORED,
    attendee_name         text NOT NULL,
    attendee_email        text,
    attendee_phone        text,
    notes                 text,
    title                 text NOT NULL,
    description           text,
    status                text NOT NULL CONSTRAINT bookings_status_check
                          CHECK (status IN ('confirmed', 'cancelled')),
    cancel_reason         text,
    cancelled_at          timestamptz,
    call_id               text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT bookings_span_check CHECK (end_at > start_at),
    CONSTRAINT bookings_occupied_check CHECK (
        occupied_start_at = start_at - make_interval(mins => buffer_before_minutes)
        AND occupied_end_at = end_at + make_interval(mins => buffer_after_minutes)),
    CONSTRAINT bookings_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    -- A caller reads the code aloud to find the booking: one per tenant.
    CONSTRAINT bookings_tenant_code UNIQUE (tenant_id, confirmation_code),
    -- The wall against double booking: two confirmed bookings of one user never occupy the
    -- same instant, whatever the application does or however many servers race.
    CONSTRAINT bookings_no_overlap
        EXCLUDE USING gist (user_id WITH =, occupied WITH &&) WHERE (status = 'confirmed')
);
-- Listing by time, and member stats per user.
CREATE INDEX bookings_tenant_start ON bookings (tenant_id, start_at);
CREATE INDEX bookings_user_start ON bookings (tenant_id, user_id, start_at);
-- Busy time: confirmed bookings' occupied ranges, keyed by end like calendar_events_busy.
CREATE INDEX bookings_busy ON bookings (tenant_id, user_id, occupied_end_at)
    INCLUDE (occupied_start_at)
    WHERE status = 'confirmed';

-- A booking's own calendar event, found on cancel and reschedule.
CREATE INDEX calendar_events_booking ON calendar_events (tenant_id, booking_id)
    WHERE booking_id IS NOT NULL;
-- Busy time no longer reads a booking's own event (its booking counts, with its buffers):
-- the index for busy_events repeats the new WHERE clause. It replaces calendar_events_busy.
CREATE INDEX calendar_events_blocking ON calendar_events (tenant_id, user_id, end_at)
    INCLUDE (start_at, all_day)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque'
      AND source <> 'booking';
DROP INDEX calendar_events_busy;

-- Idempotency-Key records: in progress while the first request runs, then its answer.
CREATE TABLE idempotency_keys (
    tenant_id    uuid NOT NULL
                 CONSTRAINT idempotency_keys_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash text NOT NULL,
    state        text NOT NULL CONSTRAINT idempotency_keys_state_check
                 CHECK (state IN ('in_progress', 'done')),
    status       integer,
    body         jsonb,
    created_at   timestamptz NOT NULL,
    -- When the in-progress owner claimed it: older than the stale limit means it died.
    updated_at   timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, key),
    CONSTRAINT idempotency_keys_done_check
        CHECK (state <> 'done' OR (status IS NOT NULL AND body IS NOT NULL))
);

-- Durable jobs, written in the transaction of the change they follow from.
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL
                    CONSTRAINT outbox_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL CONSTRAINT outbox_status_check
                    CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- Pending: when it may run. Running: when its lease ends (then it may be claimed again).
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- What claim_jobs and outbox_backlog read: only the live jobs, however long the history.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id)
    WHERE status IN ('pending', 'running');
CREATE INDEX outbox_tenant ON outbox (tenant_id, kind, created_at);

-- An agent's booking settings: the seed's JSON, kept whole.
CREATE TABLE booking_settings (
    tenant_id  uuid NOT NULL,
    agent_id   uuid NOT NULL,
    settings   jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT booking_settings_pkey PRIMARY KEY (tenant_id, agent_id),
    CONSTRAINT booking_settings_agent_fk FOREIGN KEY (tenant_id, agent_id)
        REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);

-- ---- row-level security ----

ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE bookings FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its bookings; nothing crosses tenants.
CREATE POLICY bookings_tenant ON bookings
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant ON idempotency_keys
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE booking_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE booking_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY booking_settings_tenant ON booking_settings
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
-- A tenant queues and lists its own jobs (in the transaction of the change they follow).
CREATE POLICY outbox_tenant ON outbox
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- The worker serves every tenant: claim_jobs, complete_job, fail_job and outbox_backlog set
-- the transaction-local app.worker = 'on' in their own transactions, which reveals the outbox
-- (and no other table) across tenants. Nothing tenant-scoped ever sets it.
CREATE POLICY outbox_worker ON outbox
    USING (current_setting('app.worker', true) = 'on');

-- ---- grants ----
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE
            ON bookings, idempotency_keys, outbox, booking_settings TO pillow_app;
    END IF;
END
$$;
