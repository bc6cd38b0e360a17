-- Collective bookings: one appointment that occupies several hosts. Each host's time is held by
-- an ordinary confirmed booking row of that host (so the overlap check, the per-host limits
-- and busy time treat it like any booking); this table ties the rows to the lead booking, the
-- one the caller sees. The lead is listed too, at position 0.
-- Ids are UUIDs (16-byte BLOBs). Never edit a migration once it has landed: add a new one.

CREATE TABLE booking_hosts (
    tenant_id        BLOB NOT NULL,
    booking_id       BLOB NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    host_booking_id  BLOB NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    user_id          BLOB NOT NULL,
    position         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, host_booking_id)
);
CREATE INDEX booking_hosts_booking ON booking_hosts (tenant_id, booking_id, position);

-- Recurring series: each occurrence is an ordinary booking; this table names the series it
-- belongs to, its place in it and the series' RRULE (as expanded in the agent's zone).
CREATE TABLE series_bookings (
    tenant_id   BLOB NOT NULL,
    series_id   BLOB NOT NULL,
    booking_id  BLOB NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    rrule       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, booking_id)
);
CREATE INDEX series_bookings_series ON series_bookings (tenant_id, series_id, position);
