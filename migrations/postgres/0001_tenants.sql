-- Tenants (municipalities), their host names and enabled modules.
-- These are small platform tables: with Citus they become reference tables,
-- replicated to every node, while tenant-owned tables are distributed by tenant_id.

CREATE TABLE tenants (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL,
    name_el TEXT NOT NULL,
    name_en TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    primary_colour TEXT NOT NULL,
    logo BYTEA,
    logo_type TEXT,
    contact JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE tenant_domains (
    tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    is_primary BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, domain),
    CONSTRAINT tenant_domains_domain_key UNIQUE (domain)
);
CREATE UNIQUE INDEX tenant_domains_one_primary ON tenant_domains (tenant_id) WHERE is_primary;

CREATE TABLE tenant_modules (
    tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module_id TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    config JSONB NOT NULL,
    PRIMARY KEY (tenant_id, module_id)
);

-- Bumped in the same transaction as every tenant change; replicas poll it.
CREATE TABLE registry_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

-- Append-only record of what the national operator (or a tenant file) changed.
CREATE TABLE platform_audit (
    id UUID PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    tenant_slug TEXT NOT NULL,
    changes JSONB NOT NULL
);
CREATE INDEX platform_audit_tenant ON platform_audit (tenant_slug, at);
