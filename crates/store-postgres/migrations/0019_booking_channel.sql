-- Where each booking was made: the edge of the server that took the request (a voice
-- platform, MCP, the in-call widget, the hosted page, the API or the dashboard). Bookings
-- made before this was recorded keep NULL; pages show them as made "before channels were
-- recorded". Adding a nullable column without a default rewrites no rows.
-- Never edit a migration once it has landed: add a new one.

ALTER TABLE bookings ADD COLUMN channel text
    CONSTRAINT bookings_channel_known
    CHECK (channel IN ('retell', 'vapi', 'mcp', 'widget', 'hosted', 'api', 'dashboard'));
