-- Tenants, users, API keys and voice agents, walled off per tenant by row-level security.
-- Never edit a migration once it has landed: add a new one.
--
-- Row-level security is the second wall: every query also filters by tenant_id itself. Policies
-- read transaction-local settings that the store sets with set_config(..., true) at the start of
-- each transaction. A setting that was never set, or was set in an earlier transaction, reads as
-- NULL or '' (hence NULLIF), and a comparison with NULL matches no row.
--
-- Superusers and BYPASSRLS roles ignore policies, so the store's connections SET ROLE to the
-- ordinary role pillow_app (created below when we may), and FORCE binds the tables' owner too.

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX tenants_name ON tenants (name);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL
                  CONSTRAINT users_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    email         text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CONSTRAINT users_role_check CHECK (role IN ('owner', 'admin', 'member')),
    time_zone     text NOT NULL,
    password_hash text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- One account per address and tenant; login looks addresses up across tenants.
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email));
CREATE INDEX users_email ON users (lower(email));

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL
                CONSTRAINT api_keys_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL,
    -- The key names its tenant, so the prefix must be unique across all tenants.
    prefix      text NOT NULL CONSTRAINT api_keys_prefix UNIQUE,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE agents (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL
                          CONSTRAINT agents_tenant_fk REFERENCES tenants (id) ON DELETE CASCADE,
    name                  text NOT NULL,
    time_zone             text NOT NULL,
    backend               text NOT NULL
                          CONSTRAINT agents_backend_check CHECK (backend IN ('native', 'calcom')),
    cal_enabled           boolean NOT NULL DEFAULT false,
    cal_api_key_encrypted text,
    cal_event_type_slug   text,
    cal_timezone          text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX agents_tenant ON agents (tenant_id);

-- ---- row-level security ----

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
-- A tenant sees and writes its own row; create_tenant sets app.tenant_id to the new id first.
CREATE POLICY tenants_own ON tenants
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- find_tenant_by_name (used by `demo`) may read only rows with exactly the name it asks for.
CREATE POLICY tenants_by_name ON tenants FOR SELECT
    USING (name = NULLIF(current_setting('app.tenant_name', true), ''));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its users.
CREATE POLICY users_tenant ON users
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- Login comes before we know the tenant: it may read only the users with the address typed in.
CREATE POLICY users_login ON users FOR SELECT
    USING (lower(email) = lower(NULLIF(current_setting('app.login_email', true), '')));
-- A JWT names a user, and the user names the tenant: read only the user asked for.
CREATE POLICY users_by_id ON users FOR SELECT
    USING (id = NULLIF(current_setting('app.user_id', true), '')::uuid);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its keys.
CREATE POLICY api_keys_tenant ON api_keys
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- A presented key names its tenant only through its prefix: read only the key with that prefix.
CREATE POLICY api_keys_by_prefix ON api_keys FOR SELECT
    USING (prefix = NULLIF(current_setting('app.api_key_prefix', true), ''));

ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agents FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its agents.
CREATE POLICY agents_tenant ON agents
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- Voice calls name an agent, and the agent names its tenant: read only the agent asked for.
CREATE POLICY agents_by_id ON agents FOR SELECT
    USING (id = NULLIF(current_setting('app.agent_id', true), '')::uuid);

-- ---- the role the store runs as ----
-- Roles belong to the whole cluster, grants to one database: create the role once (if we may,
-- and tolerating a concurrent migration of another database doing the same), grant every time.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app')
       AND EXISTS (SELECT 1 FROM pg_roles
                   WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
        BEGIN
            CREATE ROLE pillow_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another database's migration created it a moment ago
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT USAGE ON SCHEMA public TO pillow_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, users, api_keys, agents TO pillow_app;
        -- Tables that later migrations create are granted too; their policies are still theirs
        -- to write (a test checks that every table with a tenant_id forces row-level security).
        ALTER DEFAULT PRIVILEGES IN SCHEMA public
            GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pillow_app;
    END IF;
END
$$;
