-- Dashboard sign-in sessions. The browser holds a random token in an HttpOnly cookie; only its
-- SHA-256 is kept here, so a copy of the table signs no one in. Logging out revokes the row.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    -- A presented cookie names its tenant only through the session it hashes to.
    token_hash  text NOT NULL CONSTRAINT sessions_token_hash UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CONSTRAINT sessions_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its sessions.
CREATE POLICY sessions_tenant ON sessions
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- A browser presents its cookie before we know the tenant: read only the session it names.
CREATE POLICY sessions_by_token ON sessions FOR SELECT
    USING (token_hash = NULLIF(current_setting('app.session_token_hash', true), ''));

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO pillow_app;
    END IF;
END
$$;
