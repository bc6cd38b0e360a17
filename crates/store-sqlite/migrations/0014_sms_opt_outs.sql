-- Numbers that replied STOP to the server's SMS sender (E.164). Not tenant-owned: every tenant
-- sends from the same number, and the opt-out is for that number.
-- Instants are UTC microseconds since the Unix epoch.
-- Never edit a migration once it has landed: add a new one.
CREATE TABLE sms_opt_outs (
    phone        TEXT PRIMARY KEY NOT NULL,
    opted_out_at INTEGER NOT NULL
);
