-- Voice platforms: each agent may name its Retell agent, and each tenant may keep its Retell
-- API key (sealed by the server; only ciphertext is stored) to verify X-Retell-Signature.
-- Never edit a migration once it has landed: add a new one.

ALTER TABLE agents ADD COLUMN retell_agent_id TEXT;
-- One of our agents per Retell agent within a tenant; across tenants the tenant whose key
-- verifies the signature wins.
CREATE UNIQUE INDEX agents_tenant_retell ON agents (tenant_id, retell_agent_id);
CREATE INDEX agents_retell ON agents (retell_agent_id) WHERE retell_agent_id IS NOT NULL;

CREATE TABLE voice_settings (
    tenant_id                BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    retell_api_key_encrypted TEXT,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
