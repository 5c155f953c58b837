CREATE TABLE role_grants (
    tenant_id BLOB NOT NULL,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subject, role)
);

CREATE TABLE role_permissions (
    tenant_id BLOB NOT NULL,
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role, permission)
);

CREATE TABLE departments (
    tenant_id BLOB NOT NULL,
    slug TEXT NOT NULL,
    name_el TEXT NOT NULL,
    name_en TEXT NOT NULL,
    PRIMARY KEY (tenant_id, slug)
);

CREATE TABLE department_members (
    tenant_id BLOB NOT NULL,
    department TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (tenant_id, department, subject)
);

CREATE TABLE access_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);

CREATE TABLE verifications (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    account_id BLOB NOT NULL,
    officer TEXT NOT NULL,
    officer_name TEXT NOT NULL,
    method TEXT NOT NULL,
    document_type TEXT NOT NULL,
    level TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX verifications_account ON verifications (tenant_id, account_id);
