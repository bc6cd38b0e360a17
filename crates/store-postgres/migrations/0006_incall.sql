-- Publishable widget keys (`pk_…`): each lets browsers on its allowed origins read one agent's
-- slots and book with that agent, nothing else. Only a SHA-256 of the key is kept.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE widget_keys (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    agent_id        uuid NOT NULL,
    name            text NOT NULL,
    -- A presented key names its agent and tenant only through its prefix: unique everywhere.
    prefix          text NOT NULL CONSTRAINT widget_keys_prefix UNIQUE,
    secret_hash     text NOT NULL,
    -- A JSON array of origins such as "https://shop.example".
    allowed_origins jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT widget_keys_agent_fk FOREIGN KEY (tenant_id, agent_id)
        REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX widget_keys_agent ON widget_keys (tenant_id, agent_id);

ALTER TABLE widget_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE widget_keys FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its widget keys.
CREATE POLICY widget_keys_tenant ON widget_keys
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- A browser presents a key before we know the tenant: read only the key with that prefix.
CREATE POLICY widget_keys_by_prefix ON widget_keys FOR SELECT
    USING (prefix = NULLIF(current_setting('app.widget_key_prefix', true), ''));

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON widget_keys TO pillow_app;
    END IF;
END
$$;
