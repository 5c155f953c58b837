-- Retention: when a closed case's file was cleared (its service's
-- retention_years after closing); the job looks for closed cases not yet
-- cleared.
ALTER TABLE cases ADD COLUMN anonymised_at TIMESTAMPTZ;
CREATE INDEX cases_retention ON cases (tenant_id, process, closed_at) WHERE anonymised_at IS NULL AND closed_at IS NOT NULL;
