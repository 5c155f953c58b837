-- Bulky waste pickups. Tenant-owned: tenant_id leads every key.

-- The municipality's street list (imported from CSV): which collection
-- area a street belongs to, and where it is when coordinates are known.
-- `key` is the street's name folded (accents and case) with its postcode.
CREATE TABLE bulky_streets (
    tenant_id UUID NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    postcode TEXT NOT NULL,
    area TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    PRIMARY KEY (tenant_id, key)
);

-- Pickups booked per area and day: raised only while below the day's
-- capacity (a conditional update), so concurrent requests never overbook.
CREATE TABLE bulky_days (
    tenant_id UUID NOT NULL,
    area TEXT NOT NULL,
    day DATE NOT NULL,
    booked INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, area, day)
);

-- Requests per address and week (the Monday), raised the same way, so a
-- household's weekly limit holds under concurrent requests too.
CREATE TABLE bulky_households (
    tenant_id UUID NOT NULL,
    address TEXT NOT NULL,
    week DATE NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, address, week)
);

-- A pickup: the case it is filed as (the citizen's, or an Open311
-- client's on someone's behalf), where, when, what, and how it ended.
CREATE TABLE bulky_requests (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    case_id UUID NOT NULL,
    applicant UUID NOT NULL,
    -- 'web' or 'open311'
    channel TEXT NOT NULL,
    area TEXT NOT NULL,
    day DATE NOT NULL,
    street TEXT NOT NULL,
    number TEXT NOT NULL,
    postcode TEXT NOT NULL,
    -- The household: street folded, number and postcode.
    address TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    -- [{"item": id, "quantity": n}]
    items TEXT NOT NULL,
    description TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    fee_cents INTEGER NOT NULL,
    -- 'booked', 'collected', 'not-found', 'refused', 'cancelled'
    status TEXT NOT NULL,
    outcome_note TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    closed_by TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX bulky_requests_case ON bulky_requests (tenant_id, case_id);
CREATE INDEX bulky_requests_day ON bulky_requests (tenant_id, day, area);
CREATE INDEX bulky_requests_applicant ON bulky_requests (tenant_id, applicant);
