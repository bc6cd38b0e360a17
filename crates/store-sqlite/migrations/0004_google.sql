-- Calendar connections (Google for now) with their encrypted tokens, sync state, push channel
-- and a sync lease; synchronised events live in calendar_events (source 'google').
-- Ids are UUIDs (16-byte BLOBs); instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.

CREATE TABLE calendar_providers (
    id                      BLOB PRIMARY KEY NOT NULL,
    tenant_id               BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id                 BLOB NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('google', 'microsoft', 'caldav')),
    calendar_id             TEXT NOT NULL DEFAULT 'primary',
    -- The account that granted access; '' when the provider did not say.
    account_email           TEXT NOT NULL DEFAULT '',
    -- v1:<key id>:<base64>, sealed under CALENDAR_ENCRYPTION_KEY; never plain text.
    access_token_encrypted  TEXT,
    refresh_token_encrypted TEXT,
    token_expires_at        INTEGER,
    -- Granted scopes, space-separated as OAuth writes them.
    scopes                  TEXT NOT NULL DEFAULT '',
    sync_token              TEXT,
    sync_enabled            INTEGER NOT NULL DEFAULT 1 CHECK (sync_enabled IN (0, 1)),
    status                  TEXT NOT NULL CHECK (status IN ('active', 'needs_reauth', 'error')),
    last_synced_at          INTEGER,
    last_error              TEXT,
    -- When the poller syncs next; a push notification or a manual sync brings it forward.
    next_sync_at            INTEGER NOT NULL,
    -- Failed syncs in a row: the poller backs off exponentially.
    failure_count           INTEGER NOT NULL DEFAULT 0,
    -- The events.watch channel; its token is only verified, so only its SHA-256 is kept.
    channel_id              TEXT,
    channel_resource_id     TEXT,
    channel_token_hash      TEXT,
    channel_expires_at      INTEGER,
    -- One sync at a time per connection, across processes: the lease holder and its end.
    sync_lock_owner         TEXT,
    sync_locked_until       INTEGER,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
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
