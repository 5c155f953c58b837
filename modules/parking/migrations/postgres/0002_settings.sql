-- What the municipal admin sets for the service, over the operator's
-- defaults in the tenant definition. One row per municipality.
CREATE TABLE parking_settings (
    tenant_id UUID NOT NULL,
    validity_years INTEGER NOT NULL,
    expiry_notice_days INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by UUID NOT NULL,
    PRIMARY KEY (tenant_id)
);
