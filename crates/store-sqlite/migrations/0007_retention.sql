-- Retention: the outbox worker forgets idempotency records and done jobs after a while.
CREATE INDEX idempotency_keys_updated ON idempotency_keys (updated_at);
CREATE INDEX outbox_done ON outbox (updated_at) WHERE status = 'done';
