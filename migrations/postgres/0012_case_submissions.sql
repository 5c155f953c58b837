-- A form that starts a case carries a submission key: the same key twice
-- (a retry, a double click, a reload) returns the first case instead of
-- starting a second. The primary key makes it hold across replicas.
CREATE TABLE case_submissions (
    tenant_id UUID NOT NULL,
    submission UUID NOT NULL,
    case_id UUID NOT NULL,
    PRIMARY KEY (tenant_id, submission)
);
