-- Collective bookings: one appointment that occupies several hosts. Each host's time is held by
-- an ordinary confirmed booking row of that host, so the exclusion constraint
-- `bookings_no_overlap` protects every host of the appointment exactly as it protects a
-- single-host booking, and per-host limits and busy time count it. This table ties the rows to
-- the lead booking, the one the caller sees; the lead is listed too, at position 0.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE booking_hosts (
    tenant_id        uuid NOT NULL,
    booking_id       uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    host_booking_id  uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL,
    position         integer NOT NULL,
    PRIMARY KEY (tenant_id, host_booking_id)
);
CREATE INDEX booking_hosts_booking ON booking_hosts (tenant_id, booking_id, position);

ALTER TABLE booking_hosts ENABLE ROW LEVEL SECURITY;
ALTER TABLE booking_hosts FORCE ROW LEVEL SECURITY;
CREATE POLICY booking_hosts_tenant ON booking_hosts
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON booking_hosts TO pillow_app;
    END IF;
END
$$;

-- Recurring series: each occurrence is an ordinary booking (so the exclusion constraint holds
-- for each); this table names the series it belongs to, its place in it and the series' RRULE.
CREATE TABLE series_bookings (
    tenant_id   uuid NOT NULL,
    series_id   uuid NOT NULL,
    booking_id  uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    rrule       text NOT NULL,
    PRIMARY KEY (tenant_id, booking_id)
);
CREATE INDEX series_bookings_series ON series_bookings (tenant_id, series_id, position);

ALTER TABLE series_bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE series_bookings FORCE ROW LEVEL SECURITY;
CREATE POLICY series_bookings_tenant ON series_bookings
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON series_bookings TO pillow_app;
    END IF;
END
$$;
