-- Appointment types: the kinds of appointment an agent offers, each with its own length,
-- buffers, notice and hosts (the JSON `document`, validated by the server). The slug names a
-- type in requests and is unique per agent.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE appointment_types (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    agent_id    uuid NOT NULL,
    slug        text NOT NULL,
    document    jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- Named as SQLite reports its unique columns, so both backends give one constraint name.
    CONSTRAINT appointment_types_tenant_id_agent_id_slug UNIQUE (tenant_id, agent_id, slug),
    CONSTRAINT appointment_types_agent_fk FOREIGN KEY (tenant_id, agent_id)
        REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE appointment_types ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_types FORCE ROW LEVEL SECURITY;
CREATE POLICY appointment_types_tenant ON appointment_types
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON appointment_types TO pillow_app;
    END IF;
END
$$;
