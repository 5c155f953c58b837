-- Webhooks: a municipality's admin subscribes an HTTPS endpoint to case
-- events; each event for it is a delivery row written in the transaction
-- of the change (nothing is lost), sent by a worker on any replica,
-- signed as Standard Webhooks with the payload in CloudEvents JSON.
CREATE TABLE webhook_subscriptions (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Event types, e.g. ["case.registered", "case.decided"].
    events JSONB NOT NULL,
    -- The signing secret (whsec_…): the platform signs with it, so it is
    -- kept, and shown to the admin once.
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    disabled_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id UUID NOT NULL,
    -- The webhook-id header: the same on every attempt and replay.
    id UUID NOT NULL,
    subscription_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    case_id UUID NOT NULL,
    -- The event's place in the case's history: deliveries of one case to
    -- one subscription go in this order.
    seq INTEGER NOT NULL,
    -- The CloudEvent as sent (and signed).
    payload TEXT NOT NULL,
    -- pending, sending, delivered, dead
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, subscription_id, case_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, subscription_id, created_at);
