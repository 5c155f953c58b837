-- Documents people upload (to a case, for now). The object itself is in
-- the object store under object_key (generated, tenant-prefixed); this row
-- says whose it is, what it really is (sniffed type, size, SHA-256) and
-- what the person called it.
CREATE TABLE documents (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    case_id BLOB,
    kind TEXT,
    original_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    personal_data INTEGER NOT NULL,
    uploaded_by BLOB NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX documents_case ON documents (tenant_id, case_id);
