CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE accounts (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    tax_id TEXT,
    given_name TEXT,
    family_name TEXT,
    email TEXT,
    phone TEXT,
    assurance TEXT NOT NULL CHECK (assurance IN ('low', 'substantial', 'high')),
    created_at TEXT NOT NULL,
    last_login_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT accounts_subject_key UNIQUE (tenant_id, issuer, subject)
);

CREATE TABLE audit_log (
    tenant_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    on_behalf_of TEXT,
    action TEXT NOT NULL,
    record TEXT,
    source TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
