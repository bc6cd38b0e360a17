-- A member's booking stats (their newest confirmed booking, how many confirmed ones are to
-- come) are read on every reload of their calendar, i.e. after every booking. Read by a pass
-- over all their bookings, that cost grew with every booking ever made; these partial indexes
-- answer both by a search.
-- Never edit a migration once it has landed: add a new one.
-- The `IS NOT NULL` conditions (always true) keep the busy-time read, which names neither
-- column, on the indexes made for it (`bookings_busy_short`, `bookings_busy_long`); the
-- stats' query implies them.
CREATE INDEX bookings_confirmed_made ON bookings (tenant_id, user_id, created_at)
    WHERE status = 'confirmed' AND created_at IS NOT NULL;
CREATE INDEX bookings_confirmed_start ON bookings (tenant_id, user_id, start_at)
    WHERE status = 'confirmed' AND start_at IS NOT NULL;
