-- Machine clients of a municipality's public API (/api/v1), registered by
-- its admin: OAuth 2.0 client credentials. Only SHA-256s of secrets and
-- tokens are kept (a secret is shown once; tokens live minutes).
CREATE TABLE api_clients (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    -- Permission ids (the catalogue's), e.g. ["cases.read"].
    scopes JSONB NOT NULL,
    -- CIDRs the client may call from; NULL: anywhere.
    allowed_ips JSONB,
    secret_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by TEXT,
    last_used_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- Access tokens issued to them (a client's id, not a foreign key: no table
-- here has one but to tenants, so a municipality moves and leaves whole).
CREATE TABLE api_tokens (
    tenant_id UUID NOT NULL,
    token_hash TEXT NOT NULL,
    client_id UUID NOT NULL,
    scopes JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at);
