-- The module settings store: what a municipal admin sets for a module, on
-- top of the operator's defaults in the tenant definition. Only the keys
-- the admin changed are kept, so a later change of a default reaches the
-- municipalities that did not override it. One row per municipality and
-- module.
CREATE TABLE module_settings (
    tenant_id UUID NOT NULL,
    module TEXT NOT NULL,
    overrides JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by UUID NOT NULL,
    PRIMARY KEY (tenant_id, module)
);
