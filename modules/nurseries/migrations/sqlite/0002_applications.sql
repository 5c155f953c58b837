-- Parents' applications for a school year: one per parent per year (all
-- the family's children in it), a draft until submitted, then tied to its
-- case. The form as typed is kept for drafts; the validated application,
-- the reviewers' decisions per claimed line and the points (for ranking
-- lists) once submitted. Tenant-owned: tenant_id leads every key.
CREATE TABLE nursery_applications (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    year_id BLOB NOT NULL,
    applicant BLOB NOT NULL,
    -- draft | submitted | withdrawn
    status TEXT NOT NULL,
    case_id BLOB,
    protocol TEXT,
    form TEXT NOT NULL,
    application TEXT,
    decisions TEXT NOT NULL,
    points INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX nursery_applications_parent ON nursery_applications (tenant_id, year_id, applicant);
CREATE UNIQUE INDEX nursery_applications_case ON nursery_applications (tenant_id, case_id);
