-- Notifications: what e-mails about bookings need kept between changes, and the tenants' own
-- wording of them.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

-- The iCalendar SEQUENCE of a booking's invite: one more on every change after it was made
-- (which is 0 and has no row), so calendars replace an older invite with a newer one.
CREATE TABLE booking_notice_sequences (
    booking_id BLOB PRIMARY KEY NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sequence   INTEGER NOT NULL
);

-- A tenant's own subject and body for one kind of message (booking_created, ...); without a
-- row the built-in wording is used.
CREATE TABLE notification_templates (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

-- Webhook subscriptions. The signing secret must be used, so it is sealed, not hashed.
CREATE TABLE webhooks (
    id             BLOB PRIMARY KEY NOT NULL,
    tenant_id      BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subscriber_url TEXT NOT NULL,
    -- A JSON array of trigger names such as "BOOKING_CREATED".
    events         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events)),
    secret_sealed  TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at);

-- One row per subscription and outbox job: its latest attempt.
CREATE TABLE webhook_deliveries (
    id             BLOB PRIMARY KEY NOT NULL,
    tenant_id      BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    webhook_id     BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    job_id         BLOB NOT NULL,
    booking_id     BLOB,
    event          TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 1,
    response_code  INTEGER,
    duration_ms    INTEGER,
    error          TEXT,
    job_created_at INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (webhook_id, job_id)
);
-- A booking's earlier events still on their way to a subscriber, and its log newest first.
CREATE INDEX webhook_deliveries_booking
    ON webhook_deliveries (webhook_id, booking_id, job_created_at);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, created_at);
