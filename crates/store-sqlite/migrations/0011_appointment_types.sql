-- Appointment types: the kinds of appointment an agent offers, each with its own length,
-- buffers, notice and hosts (the JSON `document`, validated by the server). The slug names a
-- type in requests and is unique per agent.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE appointment_types (
    id          BLOB PRIMARY KEY NOT NULL,
    tenant_id   BLOB NOT NULL,
    agent_id    BLOB NOT NULL,
    slug        TEXT NOT NULL,
    document    TEXT NOT NULL CHECK (json_valid(document)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, agent_id, slug),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
