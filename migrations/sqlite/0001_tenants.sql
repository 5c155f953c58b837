-- Tenants (municipalities), their host names and enabled modules.
-- Same schema as postgres/0001_tenants.sql in SQLite types:
-- UUID → BLOB, TIMESTAMPTZ → TEXT (RFC 3339), JSONB → TEXT, BOOLEAN → INTEGER.

CREATE TABLE tenants (
    id BLOB PRIMARY KEY,
    slug TEXT NOT NULL,
    name_el TEXT NOT NULL,
    name_en TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    primary_colour TEXT NOT NULL,
    logo BLOB,
    logo_type TEXT,
    contact TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE tenant_domains (
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, domain),
    CONSTRAINT tenant_domains_domain_key UNIQUE (domain)
);
CREATE UNIQUE INDEX tenant_domains_one_primary ON tenant_domains (tenant_id) WHERE is_primary;

CREATE TABLE tenant_modules (
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module_id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module_id)
);

CREATE TABLE registry_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

CREATE TABLE platform_audit (
    id BLOB PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    tenant_slug TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX platform_audit_tenant ON platform_audit (tenant_slug, at);
