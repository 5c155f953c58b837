-- Documents people upload (to a case, for now). The object itself is in
-- the object store under object_key (generated, tenant-prefixed); this row
-- says whose it is, what it really is (sniffed type, size, SHA-256) and
-- what the person called it.
CREATE TABLE documents (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    case_id UUID,
    kind TEXT,
    original_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    personal_data BOOLEAN NOT NULL,
    uploaded_by UUID NOT NULL,
    uploaded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX documents_case ON documents (tenant_id, case_id);
