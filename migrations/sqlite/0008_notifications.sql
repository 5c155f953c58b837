-- The notification outbox: a message is written in the transaction of the
-- change that causes it, then delivered by a worker on any replica.
-- idempotency_key makes writing the same message twice impossible.
CREATE TABLE notifications (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    idempotency_key TEXT NOT NULL,
    case_id BLOB,
    account_id BLOB,
    event TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient TEXT NOT NULL,
    locale TEXT NOT NULL,
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    segments INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    provider_id TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    purged_at TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_case ON notifications (tenant_id, case_id);

-- What a municipality sends as: sender, reply-to, SMS, alerts.
CREATE TABLE notification_settings (
    tenant_id BLOB NOT NULL,
    from_name TEXT NOT NULL,
    from_address TEXT NOT NULL,
    reply_to TEXT NOT NULL,
    sms_enabled INTEGER NOT NULL,
    sms_sender TEXT NOT NULL,
    alert_address TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- A municipality's own wording of a message (per event and language).
CREATE TABLE notification_templates (
    tenant_id BLOB NOT NULL,
    event TEXT NOT NULL,
    locale TEXT NOT NULL,
    template TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, event, locale)
);

-- How a person wants to hear from the municipality.
CREATE TABLE notification_prefs (
    tenant_id BLOB NOT NULL,
    account_id BLOB NOT NULL,
    email INTEGER NOT NULL,
    sms INTEGER NOT NULL,
    mobile TEXT,
    -- Staff: a morning email of new and overdue tasks.
    digest INTEGER NOT NULL,
    locale TEXT NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);
