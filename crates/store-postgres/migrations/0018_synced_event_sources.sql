-- Busy time synchronised from a connected calendar records its provider's kind as its source
-- ('google', 'microsoft' or 'caldav'); until now every provider's was stored as 'google'.
-- Never edit a migration once it has landed: add a new one.

ALTER TABLE calendar_events DROP CONSTRAINT calendar_events_source_check;
ALTER TABLE calendar_events ADD CONSTRAINT calendar_events_source_check
    CHECK (source IN ('internal', 'google', 'booking', 'microsoft', 'caldav'));

-- Rows already synced from Outlook and CalDAV take their connection's kind. The owner is
-- bound by the tenant policies (FORCE ROW LEVEL SECURITY): lift that for this one update of
-- every tenant's rows, then put it back.
ALTER TABLE calendar_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE calendar_providers NO FORCE ROW LEVEL SECURITY;
UPDATE calendar_events e
   SET source = p.kind
  FROM calendar_providers p
 WHERE e.provider_id = p.id
   AND e.source = 'google'
   AND p.kind IN ('microsoft', 'caldav');
ALTER TABLE calendar_providers FORCE ROW LEVEL SECURITY;
ALTER TABLE calendar_events FORCE ROW LEVEL SECURITY;
