-- Numbers that replied STOP to the server's SMS sender (E.164). Not tenant-owned: every tenant
-- sends from the same number, and the opt-out is for that number, so there is no tenant_id and
-- no row-level security.
-- Never edit a migration once it has landed: add a new one.
CREATE TABLE sms_opt_outs (
    phone        text PRIMARY KEY,
    opted_out_at timestamptz NOT NULL
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON sms_opt_outs TO pillow_app;
    END IF;
END
$$;
