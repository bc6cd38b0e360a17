-- Notifications: what e-mails about bookings need kept between changes, and the tenants' own
-- wording of them.
-- Never edit a migration once it has landed: add a new one.

-- The iCalendar SEQUENCE of a booking's invite: one more on every change after it was made
-- (which is 0 and has no row), so calendars replace an older invite with a newer one.
CREATE TABLE booking_notice_sequences (
    booking_id uuid PRIMARY KEY
               CONSTRAINT booking_notice_sequences_booking_fk
               REFERENCES bookings (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL
               CONSTRAINT booking_notice_sequences_tenant_fk
               REFERENCES tenants (id) ON DELETE CASCADE,
    sequence   integer NOT NULL
);

-- A tenant's own subject and body for one kind of message (booking_created, ...); without a
-- row the built-in wording is used.
CREATE TABLE notification_templates (
    tenant_id  uuid NOT NULL
               CONSTRAINT notification_templates_tenant_fk
               REFERENCES tenants (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

-- Webhook subscriptions. The signing secret must be used, so it is sealed, not hashed.
CREATE TABLE webhooks (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL
                   CONSTRAINT webhooks_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    subscriber_url text NOT NULL,
    -- A JSON array of trigger names such as "BOOKING_CREATED".
    events         jsonb NOT NULL DEFAULT '[]',
    secret_sealed  text NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at);

-- One row per subscription and outbox job: its latest attempt.
CREATE TABLE webhook_deliveries (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL
                   CONSTRAINT webhook_deliveries_tenant_fk
                   REFERENCES tenants (id) ON DELETE CASCADE,
    webhook_id     uuid NOT NULL
                   CONSTRAINT webhook_deliveries_webhook_fk
                   REFERENCES webhooks (id) ON DELETE CASCADE,
    job_id         uuid NOT NULL,
    booking_id     uuid,
    event          text NOT NULL,
    status         text NOT NULL CONSTRAINT webhook_deliveries_status_check
                   CHECK (status IN ('delivered', 'retrying', 'failed')),
    attempts       integer NOT NULL DEFAULT 1,
    response_code  integer,
    duration_ms    bigint,
    error          text,
    job_created_at timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, job_id)
);
-- A booking's earlier events still on their way to a subscriber, and its log newest first.
CREATE INDEX webhook_deliveries_booking
    ON webhook_deliveries (webhook_id, booking_id, job_created_at);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, created_at);

ALTER TABLE booking_notice_sequences ENABLE ROW LEVEL SECURITY;
ALTER TABLE booking_notice_sequences FORCE ROW LEVEL SECURITY;
CREATE POLICY booking_notice_sequences_tenant ON booking_notice_sequences
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE notification_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_templates FORCE ROW LEVEL SECURITY;
CREATE POLICY notification_templates_tenant ON notification_templates
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY webhooks_tenant ON webhooks
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- `rotate-keys` re-seals every sealed secret, webhook secrets included (see 0004_google.sql).
CREATE POLICY webhooks_maintenance ON webhooks
    USING (current_setting('app.maintenance', true) = 'on');

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_tenant ON webhook_deliveries
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON booking_notice_sequences TO pillow_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON notification_templates TO pillow_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO pillow_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO pillow_app;
    END IF;
END
$$;
