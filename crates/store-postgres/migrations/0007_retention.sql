-- Retention: the outbox worker forgets idempotency records and done jobs after a while.
-- Like the outbox, idempotency records are revealed across tenants only to transactions that
-- set app.worker = 'on' (the worker's own); nothing tenant-scoped ever sets it.
CREATE POLICY idempotency_keys_worker ON idempotency_keys
    USING (current_setting('app.worker', true) = 'on');
CREATE INDEX idempotency_keys_updated ON idempotency_keys (updated_at);
CREATE INDEX outbox_done ON outbox (updated_at) WHERE status = 'done';
