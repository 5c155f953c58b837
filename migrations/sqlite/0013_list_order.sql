-- Lists are paged by key: their sort columns, ending in the id. An index in
-- exactly that order lets a page be read in order and stop after its rows,
-- even where thousands of rows share a time (cases filed in one batch);
-- the indexes they replace ended at the time, so a page sorted every tie.
CREATE INDEX cases_applicant_order ON cases (tenant_id, applicant, submitted_at, id);
DROP INDEX cases_applicant;
CREATE INDEX tasks_open_order ON tasks (tenant_id, status, due_at, created_at, id);
DROP INDEX tasks_open;
