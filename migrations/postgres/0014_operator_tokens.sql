-- API tokens for the national operator's automation (the tenants API).
-- Platform-level, like the operators themselves. Only a SHA-256 of each
-- token is kept: a token is shown once, when it is made.
CREATE TABLE operator_tokens (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    scopes JSONB NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by TEXT,
    last_used_at TIMESTAMPTZ
);
