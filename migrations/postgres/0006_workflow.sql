-- The workflow engine, the protocol book and the job scheduler. Every row
-- is tenant-owned, tenant_id first in every key; jobs too, so a tenant's
-- shard carries its own timers.

-- The effective definition a case runs on (module definition + the
-- tenant's overrides), stored once per distinct content. A case points at
-- its snapshot forever, so upgrades and override changes never touch
-- running cases.
CREATE TABLE workflow_snapshots (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    process TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    definition JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, hash)
);

-- What a municipal admin changed in a service (deadlines, departments,
-- documents, optional steps), validated against the definition.
CREATE TABLE workflow_overrides (
    tenant_id UUID NOT NULL,
    process TEXT NOT NULL,
    overrides JSONB NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, process)
);

-- One row per book and year; the UPDATE that takes the next number locks
-- the row until the registering transaction ends, so numbers are gap-free.
CREATE TABLE protocol_counters (
    tenant_id UUID NOT NULL,
    book TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, book, year)
);

CREATE TABLE protocol_entries (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    book TEXT NOT NULL,
    year INTEGER NOT NULL,
    number BIGINT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    registered_at TIMESTAMPTZ NOT NULL,
    subject TEXT NOT NULL,
    correspondent TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    restricted BOOLEAN NOT NULL,
    confidential BOOLEAN NOT NULL,
    personal_data BOOLEAN NOT NULL,
    case_id UUID,
    registered_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, book, year, number)
);

CREATE TABLE cases (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    process TEXT NOT NULL,
    snapshot_id UUID NOT NULL,
    module TEXT NOT NULL,
    applicant UUID NOT NULL,
    applicant_name TEXT NOT NULL,
    filed_by UUID,
    subject TEXT NOT NULL,
    data JSONB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'closed')),
    step TEXT NOT NULL,
    result TEXT CHECK (result IN ('approved', 'rejected', 'withdrawn')),
    reasoning TEXT,
    protocol_book TEXT,
    protocol_year INTEGER,
    protocol_number BIGINT,
    submitted_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    waiting_since TIMESTAMPTZ,
    waiting_until TIMESTAMPTZ,
    paused_seconds BIGINT NOT NULL,
    closed_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX cases_applicant ON cases (tenant_id, applicant, submitted_at);
CREATE INDEX cases_process ON cases (tenant_id, process, status);

CREATE TABLE tasks (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    case_id UUID NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    assignee UUID,
    assignee_name TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ,
    claimed_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    outcome TEXT,
    escalated BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tasks_case ON tasks (tenant_id, case_id);
CREATE INDEX tasks_open ON tasks (tenant_id, status, due_at);

-- Who may claim a task: roles ("role") and departments ("department").
CREATE TABLE task_candidates (
    tenant_id UUID NOT NULL,
    task_id UUID NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('role', 'department')),
    name TEXT NOT NULL,
    PRIMARY KEY (tenant_id, task_id, kind, name)
);
CREATE INDEX task_candidates_name ON task_candidates (tenant_id, kind, name);

-- Every transition of a case is a domain event: the case's history, the
-- citizen's timeline (public rows), and the feed for notifications and
-- statistics.
CREATE TABLE case_events (
    tenant_id UUID NOT NULL,
    case_id UUID NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    step TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor UUID,
    actor_name TEXT,
    on_behalf_of UUID,
    outcome TEXT,
    comment TEXT,
    public BOOLEAN NOT NULL,
    payload JSONB NOT NULL,
    PRIMARY KEY (tenant_id, case_id, seq)
);
CREATE INDEX case_events_at ON case_events (tenant_id, at);

-- Timers and background jobs. A replica takes a due job with
-- FOR UPDATE SKIP LOCKED and marks it done in the same transaction as its
-- effects, so each runs exactly once.
CREATE TABLE jobs (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    -- What the job is about (a task, a case), to cancel it when moot.
    ref_id UUID,
    run_at TIMESTAMPTZ NOT NULL,
    payload JSONB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL,
    last_error TEXT,
    done_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_ref ON jobs (tenant_id, ref_id);

-- Named per-tenant locks: a transaction that updates a row here holds it
-- until it ends, serialising work that must not interleave (appending to
-- the audit trail's hash chain) on PostgreSQL; SQLite has one writer.
CREATE TABLE named_locks (
    tenant_id UUID NOT NULL,
    name TEXT NOT NULL,
    taken BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
