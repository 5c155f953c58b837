CREATE TABLE example_notices (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
