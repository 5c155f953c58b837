-- Digital signing. Each municipality has a signing CA; staff with the
-- signing permission hold certificates it issued; every signature made in
-- the platform is kept with a reference code for the public verification
-- page. Private keys are stored sealed with the deployment's key
-- (AES-256-GCM): the database alone never holds a usable key.
CREATE TABLE signing_authorities (
    tenant_id UUID NOT NULL,
    serial TEXT NOT NULL,
    subject TEXT NOT NULL,
    cert_der BYTEA NOT NULL,
    key_sealed BYTEA NOT NULL,
    not_after TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, serial)
);

CREATE TABLE signing_certificates (
    tenant_id UUID NOT NULL,
    serial TEXT NOT NULL,
    account_id UUID NOT NULL,
    subject TEXT NOT NULL,
    cert_der BYTEA NOT NULL,
    key_sealed BYTEA NOT NULL,
    not_before TIMESTAMPTZ NOT NULL,
    not_after TIMESTAMPTZ NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    issued_by UUID NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by UUID,
    revocation_reason TEXT,
    PRIMARY KEY (tenant_id, serial)
);
-- One usable certificate per person: a new one revokes ("superseded") the old.
CREATE UNIQUE INDEX signing_certificates_current
    ON signing_certificates (tenant_id, account_id) WHERE revoked_at IS NULL;

CREATE TABLE signatures (
    tenant_id UUID NOT NULL,
    reference TEXT NOT NULL,
    document_id UUID NOT NULL,
    case_id UUID,
    signer_account UUID NOT NULL,
    signer_name TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    provider TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    signature_der BYTEA NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, reference)
);
-- A person signs a document once.
CREATE UNIQUE INDEX signatures_once ON signatures (tenant_id, document_id, signer_account);

-- Documents staff add to a case may be internal (not shown to the
-- applicant); a citizen may replace a document while the case is open,
-- and the old one stays in the file, pointing at its replacement.
ALTER TABLE documents ADD COLUMN internal BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE documents ADD COLUMN replaced_by UUID;
