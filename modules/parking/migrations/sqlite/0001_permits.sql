-- The register of parking permits for persons with a disability. One row
-- per issued permit; renewals extend valid_until, revocations are kept.
-- Tenant-owned: tenant_id leads every key (shardable by tenant).
CREATE TABLE parking_permits (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    case_id BLOB NOT NULL,
    holder BLOB NOT NULL,
    holder_name TEXT NOT NULL,
    location TEXT NOT NULL,
    plate TEXT NOT NULL,
    card_number TEXT NOT NULL,
    decision TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    issued_by BLOB NOT NULL,
    valid_until TEXT NOT NULL,
    renewed_at TEXT,
    revoked_at TEXT,
    revocation_reason TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX parking_permits_card ON parking_permits (tenant_id, card_number);
-- One permit per case.
CREATE UNIQUE INDEX parking_permits_case ON parking_permits (tenant_id, case_id);
CREATE INDEX parking_permits_expiry ON parking_permits (tenant_id, valid_until);
