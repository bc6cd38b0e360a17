-- Removing a member keeps their row: their bookings, whose confirmation codes callers hold,
-- still name them. A removed member has `deleted_at` set and is invisible to every list,
-- login and token; their address may be used again by a new member.
-- Never edit a migration once it has landed: add a new one.

ALTER TABLE users ADD COLUMN deleted_at timestamptz;

DROP INDEX users_tenant_email;
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email)) WHERE deleted_at IS NULL;
