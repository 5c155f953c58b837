-- Placement runs of a school year and what they gave each child. A run
-- keeps the exact input it placed (stations, places, every family's
-- priority with its recorded lottery number) so it can be explained and
-- reproduced; the results follow the families' answers after
-- publication (accepted, declined, expired, or offered from the waiting
-- list). Tenant-owned: tenant_id leads every key.
CREATE TABLE nursery_runs (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    year_id BLOB NOT NULL,
    seed TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    ran_at TEXT NOT NULL,
    ran_by BLOB NOT NULL,
    published_at TEXT,
    published_by BLOB,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX nursery_runs_year ON nursery_runs (tenant_id, year_id, ran_at);

CREATE TABLE nursery_results (
    tenant_id BLOB NOT NULL,
    run_id BLOB NOT NULL,
    application_id BLOB NOT NULL,
    -- The child's place in the application.
    child INTEGER NOT NULL,
    -- The unit placed as one (siblings together share it).
    unit INTEGER NOT NULL,
    station_id BLOB,
    -- The station's place in the family's list, from 0.
    choice INTEGER,
    -- placed | waiting | accepted | declined | expired
    status TEXT NOT NULL,
    deadline TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, application_id, child)
);
CREATE INDEX nursery_results_unit ON nursery_results (tenant_id, run_id, unit);
