-- What the municipal admin sets for the nurseries (age groups, the points
-- table, income bands, tie-break, documents), over the operator's defaults
-- in the tenant definition. One row per municipality.
CREATE TABLE nursery_settings (
    tenant_id BLOB NOT NULL,
    config TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BLOB NOT NULL,
    PRIMARY KEY (tenant_id)
);
