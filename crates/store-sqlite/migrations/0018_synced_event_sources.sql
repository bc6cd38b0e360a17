-- Busy time synchronised from a connected calendar records its provider's kind as its source
-- ('google', 'microsoft' or 'caldav'); until now every provider's was stored as 'google'.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the wider one
-- (same columns, same indexes), and rows synced from Outlook and CalDAV take their
-- connection's kind on the way.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE calendar_events_new (
    id           BLOB PRIMARY KEY NOT NULL,
    tenant_id    BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL,
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
    source       TEXT NOT NULL
                 CHECK (source IN ('internal', 'google', 'booking', 'microsoft', 'caldav')),
    booking_id   BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (end_at >= start_at),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

INSERT INTO calendar_events_new (id, tenant_id, user_id, provider_id, external_id, etag, title,
                                 description, start_at, end_at, all_day, status, transparency,
                                 source, booking_id, created_at, updated_at)
SELECT e.id, e.tenant_id, e.user_id, e.provider_id, e.external_id, e.etag, e.title,
       e.description, e.start_at, e.end_at, e.all_day, e.status, e.transparency,
       CASE
           WHEN e.source = 'google' AND p.kind IN ('microsoft', 'caldav') THEN p.kind
           ELSE e.source
       END,
       e.booking_id, e.created_at, e.updated_at
  FROM calendar_events e
  LEFT JOIN calendar_providers p ON p.id = e.provider_id;

DROP TABLE calendar_events;
ALTER TABLE calendar_events_new RENAME TO calendar_events;

-- The indexes 0002, 0003 and 0004 made, as they stand.
CREATE INDEX calendar_events_user_start ON calendar_events (tenant_id, user_id, start_at);
CREATE UNIQUE INDEX calendar_events_external ON calendar_events (provider_id, external_id)
    WHERE provider_id IS NOT NULL AND external_id IS NOT NULL;
CREATE INDEX calendar_events_booking ON calendar_events (tenant_id, booking_id)
    WHERE booking_id IS NOT NULL;
CREATE INDEX calendar_events_blocking
    ON calendar_events (tenant_id, user_id, end_at, start_at, all_day, status, transparency,
                        source)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque'
      AND source <> 'booking';
CREATE INDEX calendar_events_provider ON calendar_events (provider_id, external_id)
    WHERE provider_id IS NOT NULL;
