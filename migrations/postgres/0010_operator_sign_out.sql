-- "Sign out everywhere" for national operators (platform-level, not a
-- tenant's row): operator sessions that began before this moment end.
CREATE TABLE operator_sign_outs (
    tax_id TEXT PRIMARY KEY,
    signed_out_at TIMESTAMPTZ NOT NULL
);
