-- The register of parking permits for persons with a disability. One row
-- per issued permit; renewals extend valid_until, revocations are kept.
-- Tenant-owned: tenant_id leads every key (shardable by tenant).
CREATE TABLE parking_permits (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    case_id UUID NOT NULL,
    holder UUID NOT NULL,
    holder_name TEXT NOT NULL,
    location TEXT NOT NULL,
    plate TEXT NOT NULL,
    card_number TEXT NOT NULL,
    decision TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    issued_by UUID NOT NULL,
    valid_until DATE NOT NULL,
    renewed_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    revocation_reason TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX parking_permits_card ON parking_permits (tenant_id, card_number);
-- One permit per case.
CREATE UNIQUE INDEX parking_permits_case ON parking_permits (tenant_id, case_id);
CREATE INDEX parking_permits_expiry ON parking_permits (tenant_id, valid_until);
