-- Digital signing. Each municipality has a signing CA; staff with the
-- signing permission hold certificates it issued; every signature made in
-- the platform is kept with a reference code for the public verification
-- page. Private keys are stored sealed with the deployment's key
-- (AES-256-GCM): the database alone never holds a usable key.
CREATE TABLE signing_authorities (
    tenant_id BLOB NOT NULL,
    serial TEXT NOT NULL,
    subject TEXT NOT NULL,
    cert_der BLOB NOT NULL,
    key_sealed BLOB NOT NULL,
    not_after TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, serial)
);

CREATE TABLE signing_certificates (
    tenant_id BLOB NOT NULL,
    serial TEXT NOT NULL,
    account_id BLOB NOT NULL,
    subject TEXT NOT NULL,
    cert_der BLOB NOT NULL,
    key_sealed BLOB NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    issued_by BLOB NOT NULL,
    revoked_at TEXT,
    revoked_by BLOB,
    revocation_reason TEXT,
    PRIMARY KEY (tenant_id, serial)
);
-- One usable certificate per person: a new one revokes ("superseded") the old.
CREATE UNIQUE INDEX signing_certificates_current
    ON signing_certificates (tenant_id, account_id) WHERE revoked_at IS NULL;

CREATE TABLE signatures (
    tenant_id BLOB NOT NULL,
    reference TEXT NOT NULL,
    document_id BLOB NOT NULL,
    case_id BLOB,
    signer_account BLOB NOT NULL,
    signer_name TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    provider TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    signature_der BLOB NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, reference)
);
-- A person signs a document once.
CREATE UNIQUE INDEX signatures_once ON signatures (tenant_id, document_id, signer_account);

-- Documents staff add to a case may be internal (not shown to the
-- applicant); a citizen may replace a document while the case is open,
-- and the old one stays in the file, pointing at its replacement.
ALTER TABLE documents ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN replaced_by BLOB;
