-- Calendar connections (Google for now) with their encrypted tokens, sync state, push channel
-- and a sync lease; synchronised events live in calendar_events (source 'google').
-- Walled off per tenant by row-level security like everything before.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE calendar_providers (
    id                      uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL
                            CONSTRAINT calendar_providers_tenant_fk
                            REFERENCES tenants (id) ON DELETE CASCADE,
    user_id                 uuid NOT NULL,
    kind                    text NOT NULL CONSTRAINT calendar_providers_kind_check
                            CHECK (kind IN ('google', 'microsoft', 'caldav')),
    calendar_id             text NOT NULL DEFAULT 'primary',
    -- The account that granted access; '' when the provider did not say.
    account_email           text NOT NULL DEFAULT '',
    -- v1:<key id>:<base64>, sealed under CALENDAR_ENCRYPTION_KEY; never plain text.
    access_token_encrypted  text,
    refresh_token_encrypted text,
    token_expires_at        timestamptz,
    -- Granted scopes, space-separated as OAuth writes them.
    scopes                  text NOT NULL DEFAULT '',
    sync_token              text,
    sync_enabled            boolean NOT NULL DEFAULT true,
    status                  text NOT NULL CONSTRAINT calendar_providers_status_check
                            CHECK (status IN ('active', 'needs_reauth', 'error')),
    last_synced_at          timestamptz,
    last_error              text,
    -- When the poller syncs next; a push notification or a manual sync brings it forward.
    next_sync_at            timestamptz NOT NULL,
    -- Failed syncs in a row: the poller backs off exponentially.
    failure_count           integer NOT NULL DEFAULT 0,
    -- The events.watch channel; its token is only verified, so only its SHA-256 is kept.
    channel_id              text,
    channel_resource_id     text,
    channel_token_hash      text,
    channel_expires_at      timestamptz,
    -- One sync at a time per connection, across processes: the lease holder and its end.
    sync_lock_owner         text,
    sync_locked_until       timestamptz,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT calendar_providers_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- Reconnecting the same account updates its connection instead of adding a second one.
CREATE UNIQUE INDEX calendar_providers_account
    ON calendar_providers (tenant_id, user_id, kind, calendar_id, account_email);
CREATE INDEX calendar_providers_due ON calendar_providers (next_sync_at)
    WHERE sync_enabled AND status IN ('active', 'error');
CREATE UNIQUE INDEX calendar_providers_channel ON calendar_providers (channel_id)
    WHERE channel_id IS NOT NULL;
-- Synced events of one connection, for pruning after a full sync and for disconnect.
CREATE INDEX calendar_events_provider ON calendar_events (provider_id, external_id)
    WHERE provider_id IS NOT NULL;

-- ---- row-level security ----

ALTER TABLE calendar_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendar_providers FORCE ROW LEVEL SECURITY;
-- Everything a tenant does with its connections.
CREATE POLICY calendar_providers_tenant ON calendar_providers
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- The sync scheduler serves every tenant: like the outbox worker's app.worker, its own
-- transaction-local app.sync_worker = 'on' reveals the connections (and no other table) to
-- find and lease those that are due. It then works on each one in its tenant's scope.
CREATE POLICY calendar_providers_sync_worker ON calendar_providers
    USING (current_setting('app.sync_worker', true) = 'on');
-- A push notification names only its channel: read only the connection with that channel.
CREATE POLICY calendar_providers_by_channel ON calendar_providers FOR SELECT
    USING (channel_id = NULLIF(current_setting('app.channel_id', true), ''));
-- `rotate-keys` re-encrypts every sealed secret: app.maintenance = 'on' reveals the sealed
-- columns' tables across tenants, and only the CLI's key rotation sets it.
CREATE POLICY calendar_providers_maintenance ON calendar_providers
    USING (current_setting('app.maintenance', true) = 'on');
CREATE POLICY agents_maintenance ON agents
    USING (current_setting('app.maintenance', true) = 'on');

-- ---- grants ----
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON calendar_providers TO pillow_app;
    END IF;
END
$$;
