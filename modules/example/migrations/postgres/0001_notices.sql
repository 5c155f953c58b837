-- Tenant-owned: tenant_id leads every key, so the table can be distributed by tenant.
CREATE TABLE example_notices (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    title TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
