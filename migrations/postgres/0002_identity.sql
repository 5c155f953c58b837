-- Sessions: server-side, so any replica serves any request. Keyed by a
-- random id (hash-distributed under Citus); the tenant is checked on use.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- People who signed in to a municipality. Tenant-owned.
CREATE TABLE accounts (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    tax_id TEXT,
    given_name TEXT,
    family_name TEXT,
    email TEXT,
    phone TEXT,
    assurance TEXT NOT NULL CHECK (assurance IN ('low', 'substantial', 'high')),
    created_at TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT accounts_subject_key UNIQUE (tenant_id, issuer, subject)
);

-- Append-only, hash-chained audit trail per tenant: each row's hash covers
-- its content and the previous row's hash, so an edited or deleted row
-- breaks the chain from there on.
CREATE TABLE audit_log (
    tenant_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    on_behalf_of TEXT,
    action TEXT NOT NULL,
    record TEXT,
    source TEXT,
    detail JSONB NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
