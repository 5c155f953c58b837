-- Role-based access per tenant. Default roles and their permissions come
-- from code (platform and modules); these tables hold what each
-- municipality adds: who holds which role, departments and their members,
-- extra permissions for roles. Subjects are "taxid:<ΑΦΜ>" (a person, known
-- before their first sign-in) or "dept:<slug>" (everyone in a department).
CREATE TABLE role_grants (
    tenant_id UUID NOT NULL,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, subject, role)
);

CREATE TABLE role_permissions (
    tenant_id UUID NOT NULL,
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role, permission)
);

CREATE TABLE departments (
    tenant_id UUID NOT NULL,
    slug TEXT NOT NULL,
    name_el TEXT NOT NULL,
    name_en TEXT NOT NULL,
    PRIMARY KEY (tenant_id, slug)
);

CREATE TABLE department_members (
    tenant_id UUID NOT NULL,
    department TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (tenant_id, department, subject)
);

-- Bumped with every access change; replicas rebuild their enforcer.
CREATE TABLE access_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);

-- In-person identity checks at a KEP desk or the town hall: who checked
-- whom, when, how, and which kind of document (never its image or number).
CREATE TABLE verifications (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    account_id UUID NOT NULL,
    officer TEXT NOT NULL,
    officer_name TEXT NOT NULL,
    method TEXT NOT NULL,
    document_type TEXT NOT NULL,
    level TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX verifications_account ON verifications (tenant_id, account_id);
