-- Publishable widget keys (`pk_…`): each lets browsers on its allowed origins read one agent's
-- slots and book with that agent, nothing else. Only a SHA-256 of the key is kept.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE widget_keys (
    id              BLOB PRIMARY KEY NOT NULL,
    tenant_id       BLOB NOT NULL,
    agent_id        BLOB NOT NULL,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL UNIQUE,
    secret_hash     TEXT NOT NULL,
    -- A JSON array of origins such as "https://shop.example".
    allowed_origins TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_origins)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX widget_keys_agent ON widget_keys (tenant_id, agent_id);
