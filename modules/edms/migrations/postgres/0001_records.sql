-- Documents the municipality registers in its protocol book and moves
-- between its departments and people (electronic document management).
-- A record is where the document is now (department, the person charged
-- with it, since when); its movements are its history, never rewritten.
CREATE TABLE edms_records (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    -- incoming, outgoing
    direction TEXT NOT NULL,
    -- The protocol book's entry (the platform's protocol_entries); an
    -- outgoing document has one once it is signed.
    protocol_id UUID,
    protocol_year INTEGER,
    protocol_number BIGINT,
    -- A document type of the municipality's list (letter, request, …).
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    correspondent TEXT NOT NULL,
    -- The sender's own reference (number and date of their letter).
    correspondent_ref TEXT NOT NULL,
    received_on DATE NOT NULL,
    -- post, hand, email, exchange (incoming); draft, email, post (outgoing)
    channel TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    confidential BOOLEAN NOT NULL,
    personal_data BOOLEAN NOT NULL,
    urgent BOOLEAN NOT NULL,
    -- registered (at the protocol office), routed (in a department's
    -- queue), charged (with a person), closed; an outgoing one: draft,
    -- approval (with an approver), numbered (its number taken, its
    -- signature pending), signed (to dispatch), closed
    status TEXT NOT NULL,
    department TEXT,
    -- The person charged with it: an access subject (taxid:…).
    holder TEXT,
    holder_name TEXT,
    instructions TEXT NOT NULL,
    deadline DATE,
    -- When it arrived where it is now.
    since TIMESTAMPTZ NOT NULL,
    registered_by UUID NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    outcome TEXT NOT NULL,
    -- Subject, correspondent, number and the files' text, folded (accents,
    -- case): what the search matches.
    search_text TEXT NOT NULL,
    -- The registering form's key: a second press files nothing new.
    submission UUID NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX edms_records_submission ON edms_records (tenant_id, submission);
CREATE INDEX edms_records_department ON edms_records (tenant_id, department, status);
CREATE INDEX edms_records_holder ON edms_records (tenant_id, holder, status);
CREATE INDEX edms_records_registered ON edms_records (tenant_id, registered_at, id);
CREATE INDEX edms_records_number ON edms_records (tenant_id, protocol_year, protocol_number);
CREATE INDEX edms_records_search ON edms_records USING GIN (to_tsvector('simple', search_text));

CREATE TABLE edms_movements (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    record_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    -- registered, routed, charged, noted, returned, closed, file-added
    kind TEXT NOT NULL,
    by_account UUID NOT NULL,
    by_name TEXT NOT NULL,
    department TEXT,
    to_subject TEXT,
    to_name TEXT,
    note TEXT NOT NULL,
    deadline DATE,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX edms_movements_record ON edms_movements (tenant_id, record_id, at);
CREATE INDEX edms_movements_by ON edms_movements (tenant_id, by_account, kind);
CREATE INDEX edms_movements_to ON edms_movements (tenant_id, to_subject);

-- An outgoing document's draft and its way to signature: the text, the
-- approval chain (in order; the last approver signs), where in the chain
-- it is, and, once signed, the signed PDF and its verification code.
CREATE TABLE edms_outgoing (
    tenant_id UUID NOT NULL,
    record_id UUID NOT NULL,
    -- letter, decision, certificate
    template TEXT NOT NULL,
    body TEXT NOT NULL,
    recipient_email TEXT NOT NULL,
    drafter TEXT NOT NULL,
    drafter_name TEXT NOT NULL,
    -- JSON: [[subject, name], …]
    approvers TEXT NOT NULL,
    step INTEGER NOT NULL,
    reference TEXT,
    signed_document UUID,
    PRIMARY KEY (tenant_id, record_id)
);

-- The files of a record (rows of the platform's documents, held by
-- edms_records) and the text read out of each, for the search.
CREATE TABLE edms_files (
    tenant_id UUID NOT NULL,
    record_id UUID NOT NULL,
    document_id UUID NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (tenant_id, record_id, document_id)
);
