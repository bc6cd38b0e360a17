-- Busy time read on both sides of its range. The indexes keyed by end alone let a query for one
-- day read every later event and booking of each member. Now a row at most a day long (the cap
-- the busy queries name: interval '24 hours', in hours so that no session zone stretches it) is
-- found by its start, which lies less than a day before the range; a longer one, rare, by its
-- end in a small index of its own. The length terms are written here as the queries write
-- them, so the planner can prove the partial indexes apply. Timed and all-day rows are kept
-- apart in the short index: all-day carriers are searched a day wider (see ALL_DAY_WIDENING),
-- timed ones are not. The overlap check of bookings stays the exclusion constraint's.
-- Never edit a migration once it has landed: add a new one.

CREATE INDEX calendar_events_blocking_short
    ON calendar_events (tenant_id, user_id, all_day, start_at) INCLUDE (end_at)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque'
      AND source <> 'booking' AND end_at - start_at <= interval '24 hours';
CREATE INDEX calendar_events_blocking_long
    ON calendar_events (tenant_id, user_id, end_at) INCLUDE (start_at, all_day)
    WHERE status IN ('confirmed', 'tentative') AND transparency = 'opaque'
      AND source <> 'booking' AND end_at - start_at > interval '24 hours';
DROP INDEX calendar_events_blocking;

CREATE INDEX bookings_busy_short
    ON bookings (tenant_id, user_id, occupied_start_at) INCLUDE (occupied_end_at)
    WHERE status = 'confirmed' AND occupied_end_at - occupied_start_at <= interval '24 hours';
CREATE INDEX bookings_busy_long
    ON bookings (tenant_id, user_id, occupied_end_at) INCLUDE (occupied_start_at)
    WHERE status = 'confirmed' AND occupied_end_at - occupied_start_at > interval '24 hours';
DROP INDEX bookings_busy;
