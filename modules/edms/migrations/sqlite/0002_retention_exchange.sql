-- Retention: a legal hold stops disposal; a disposed record keeps its
-- number, type and dates (the protocol book is kept by law) and says how
-- it went (destroyed, or transferred to the archive as a package, itself
-- a held document).
ALTER TABLE edms_records ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE edms_records ADD COLUMN hold_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE edms_records ADD COLUMN disposed_at TEXT;
-- destroyed, archived ('' while kept)
ALTER TABLE edms_records ADD COLUMN disposal TEXT NOT NULL DEFAULT '';
ALTER TABLE edms_records ADD COLUMN archive_document BLOB;
CREATE INDEX edms_records_closed ON edms_records (tenant_id, kind, closed_at);

-- Exchanges with the government's systems: a document received from or
-- sent through the document exchange (ΙΡΙΔΑ), a decision published on
-- Diavgeia. One row per record and system; `state` is requested (handed
-- to the system, its answer awaited), done or failed.
CREATE TABLE edms_exchange (
    tenant_id BLOB NOT NULL,
    record_id BLOB NOT NULL,
    -- irida-in, irida-out, diavgeia
    system TEXT NOT NULL,
    state TEXT NOT NULL,
    -- The system's id of it (ΙΡΙΔΑ's message id; Diavgeia's ΑΔΑ).
    remote_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- The receiving organisation (sending) or the sender's (received).
    organisation TEXT NOT NULL,
    error TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    -- Last handed over or asked about: the oldest is asked first, so
    -- rows that wait long hold up none of the others.
    checked_at TEXT NOT NULL,
    done_at TEXT,
    PRIMARY KEY (tenant_id, record_id, system)
);
CREATE INDEX edms_exchange_state ON edms_exchange (tenant_id, state, checked_at);
