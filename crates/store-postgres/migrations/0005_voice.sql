-- Voice platforms: each agent may name its Retell agent, and each tenant may keep its Retell
-- API key (sealed by the server; only ciphertext is stored) to verify X-Retell-Signature.
-- Never edit a migration once it has landed: add a new one.

ALTER TABLE agents ADD COLUMN retell_agent_id text;
-- One of our agents per Retell agent within a tenant. Across tenants the same id may appear
-- (Retell ids are not ours to police); the tenant whose key verifies the signature wins.
CREATE UNIQUE INDEX agents_tenant_retell ON agents (tenant_id, retell_agent_id);
CREATE INDEX agents_retell ON agents (retell_agent_id) WHERE retell_agent_id IS NOT NULL;

-- A signed Retell call names only Retell's agent id, and the agent names its tenant: read only
-- the agents with the Retell id asked for.
CREATE POLICY agents_by_retell_id ON agents FOR SELECT
    USING (retell_agent_id = NULLIF(current_setting('app.retell_agent_id', true), ''));

CREATE TABLE voice_settings (
    tenant_id                uuid PRIMARY KEY
                             CONSTRAINT voice_settings_tenant_fk
                             REFERENCES tenants (id) ON DELETE CASCADE,
    retell_api_key_encrypted text,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);

ALTER TABLE voice_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE voice_settings FORCE ROW LEVEL SECURITY;
-- Only the tenant itself: the key is read after the agent (and so the tenant) is known.
CREATE POLICY voice_settings_tenant ON voice_settings
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON voice_settings TO pillow_app;
    END IF;
END
$$;
