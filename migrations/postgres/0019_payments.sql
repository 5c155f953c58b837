-- Payments: an amount a case owes (a fee), the attempts to pay it through
-- the configured provider (redirect to its checkout, a signed notice to
-- us, a status poll as the backstop), and the development bank's own
-- sessions (the demo's and the tests' provider, served at /dev-pay).
CREATE TABLE payments (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    case_id UUID NOT NULL,
    amount_cents BIGINT NOT NULL,
    description TEXT NOT NULL,
    -- due, paid, cancelled
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    paid_at TIMESTAMPTZ,
    -- The attempt that paid it.
    paid_by_attempt UUID,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX payments_case ON payments (tenant_id, case_id);

CREATE TABLE payment_attempts (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    payment_id UUID NOT NULL,
    provider TEXT NOT NULL,
    -- The provider's id of its checkout; set once it answered.
    provider_ref TEXT,
    -- started, paid, failed, cancelled
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    settled_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    -- A notice names the provider's reference: it finds one attempt.
    UNIQUE (tenant_id, provider, provider_ref)
);
CREATE INDEX payment_attempts_open ON payment_attempts (status, created_at);

-- Not a municipality's data: the development bank's ledger.
CREATE TABLE dev_pay_sessions (
    id UUID PRIMARY KEY,
    merchant TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    description TEXT NOT NULL,
    return_url TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    -- open, paid, declined, cancelled
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
