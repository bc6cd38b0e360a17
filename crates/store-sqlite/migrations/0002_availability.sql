-- Availability rules, calendar events, and a busy version per user.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

-- Bumped in the same transaction as every change to the user's events and rules (and later
-- bookings), so servers may cache busy time and rules and notice when they are stale.
ALTER TABLE users ADD COLUMN busy_version INTEGER NOT NULL DEFAULT 0;

-- The parent key of the (tenant_id, user_id) foreign keys below: a user's rows must live in
-- the user's own tenant.
CREATE UNIQUE INDEX users_tenant_id ON users (tenant_id, id);

CREATE TABLE availability_rules (
    id         BLOB PRIMARY KEY NOT NULL,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL,
    name       TEXT,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    -- The seed's rule document, serialised JSON, kept whole.
    document   TEXT NOT NULL CHECK (json_valid(document)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX availability_rules_user ON availability_rules (tenant_id, user_id, created_at);
-- At most one default rule per user; making a rule the default demotes the old one first.
CREATE UNIQUE INDEX availability_rules_one_default ON availability_rules (user_id)
    WHERE is_default;

CREATE TABLE calendar_events (
    id           BLOB PRIMARY KEY NOT NULL,
    tenant_id    BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL,
    -- calendar_providers and bookings arrive in later migrations; no foreign keys yet.
    provider_id  BLOB,
    external_id  TEXT,
    etag         TEXT,
    title        TEXT NOT NULL,
    description  TEXT,
    -- For all-day events: local dates at 00:00 UTC, end exclusive (see CalendarEvent).
    start_at     INTEGER NOT NULL,
    end_at       INTEGER NOT NULL,
    all_day      INTEGER NOT NULL DEFAULT 0 CHECK (all_day IN (0, 1)),
    status       TEXT NOT NULL CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    transparency TEXT NOT NULL CHECK (transparency IN ('opaque', 'transparent')),
    source       TEXT NOT NULL CHECK (source IN ('internal', 'google', 'booking')),
    booking_id   BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (end_at >= start_at),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- Listing a user's events by time.
CREATE INDEX calendar_events_user_start ON calendar_events (tenant_id, user_id, start_at);
-- Busy time: only the events that block time. Keyed by end_at: a range near "now" then skips
-- the (ever growing) past instead of scanning it. It covers every column busy_events reads;
-- status and transparency are there only because SQLite must re-check the IN of the WHERE.
CREATE INDEX calendar_events_busy
    ON calendar_events (tenant_id, user_id, end_at, start_at, all_day, status, transparency)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque';
-- One row per provider event; synchronisation upserts on it.
CREATE UNIQUE INDEX calendar_events_external ON calendar_events (provider_id, external_id)
    WHERE provider_id IS NOT NULL AND external_id IS NOT NULL;
