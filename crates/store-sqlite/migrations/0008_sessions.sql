-- Dashboard sign-in sessions. The browser holds a random token in an HttpOnly cookie; only its
-- SHA-256 is kept here, so a copy of the table signs no one in. Logging out revokes the row.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE sessions (
    id          BLOB PRIMARY KEY NOT NULL,
    tenant_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);
