-- Availability rules, calendar events, and a busy version per user; walled off per tenant by
-- row-level security like everything in 0001_foundation.sql.
-- Never edit a migration once it has landed: add a new one.

-- Bumped in the same transaction as every change to the user's events and rules (and later
-- bookings), so servers may cache busy time and rules and notice when they are stale. The
-- store bumps it before touching the rows, which also locks the user's row: concurrent writes
-- for one user take their locks in the same order (user, then rules or events).
ALTER TABLE users ADD COLUMN busy_version bigint NOT NULL DEFAULT 0;

-- The parent key of the (tenant_id, user_id) foreign keys below: a user's rows must live in
-- the user's own tenant.
ALTER TABLE users ADD CONSTRAINT users_tenant_id UNIQUE (tenant_id, id);

CREATE TABLE availability_rules (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL
               CONSTRAINT availability_rules_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    name       text,
    is_default boolean NOT NULL DEFAULT false,
    -- The seed's rule document, kept whole (jsonb: equal as JSON, not byte for byte).
    document   jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT availability_rules_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX availability_rules_user ON availability_rules (tenant_id, user_id, created_at);
-- At most one default rule per user; making a rule the default demotes the old one first.
CREATE UNIQUE INDEX availability_rules_one_default ON availability_rules (user_id)
    WHERE is_default;

CREATE TABLE calendar_events (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL
                 CONSTRAINT calendar_events_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL,
    -- calendar_providers and bookings arrive in later migrations; no foreign keys yet.
    provider_id  uuid,
    external_id  text,
    etag         text,
    title        text NOT NULL,
    description  text,
    -- For all-day events: local dates at 00:00 UTC, end exclusive (see CalendarEvent).
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL,
    all_day      boolean NOT NULL DEFAULT false,
    status       text NOT NULL CONSTRAINT calendar_events_status_check
                 CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    transparency text NOT NULL CONSTRAINT calendar_events_transparency_check
                 CHECK (transparency IN ('opaque', 'transparent')),
    source       text NOT NULL CONSTRAINT calendar_events_source_check
                 CHECK (source IN ('internal', 'google', 'booking')),
    booking_id   uuid,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT calendar_events_span_check CHECK (end_at >= start_at),
    CONSTRAINT calendar_events_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- Listing a user's events by time.
CREATE INDEX calendar_events_user_start ON calendar_events (tenant_id, user_id, start_at);
-- Busy time: only the events that block time, covering the columns busy_events reads. Keyed
-- by end_at: a range near "now" then skips the (ever growing) past instead of scanning it.
CREATE INDEX calendar_events_busy ON calendar_events (tenant_id, user_id, end_at)
    INCLUDE (start_at, all_day)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque';
-- One row per provider event; synchronisation upserts on it.
CREATE UNIQUE INDEX calendar_events_external ON calendar_events (provider_id, external_id)
    WHERE provider_id IS NOT NULL AND external_id IS NOT NULL;

-- ---- row-level security ----

ALTER TABLE availability_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE availability_rules FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its availability rules; nothing crosses tenants.
CREATE POLICY availability_rules_tenant ON availability_rules
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE calendar_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendar_events FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its calendar events; nothing crosses tenants.
CREATE POLICY calendar_events_tenant ON calendar_events
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- ---- grants ----
-- 0001's default privileges already cover tables its migrating user creates; grant explicitly
-- anyway, so a database migrated by another user is covered too.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON availability_rules, calendar_events TO pillow_app;
    END IF;
END
$$;
