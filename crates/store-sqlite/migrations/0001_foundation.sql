-- Tenants, users, API keys and voice agents.
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE tenants (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX tenants_name ON tenants (name);

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    tenant_id     BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    time_zone     TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- One account per address and tenant; login looks addresses up across tenants.
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email));
CREATE INDEX users_email ON users (lower(email));

CREATE TABLE api_keys (
    id          BLOB PRIMARY KEY NOT NULL,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE agents (
    id                    BLOB PRIMARY KEY NOT NULL,
    tenant_id             BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    time_zone             TEXT NOT NULL,
    backend               TEXT NOT NULL CHECK (backend IN ('native', 'calcom')),
    cal_enabled           INTEGER NOT NULL DEFAULT 0,
    cal_api_key_encrypted TEXT,
    cal_event_type_slug   TEXT,
    cal_timezone          TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX agents_tenant ON agents (tenant_id);
