-- Emergency social cases placed during the year in the places each
-- station reserves for them (nursery_places.reserved), outside the
-- placement runs. A case is released when the child leaves. Tenant-owned:
-- tenant_id leads every key.
CREATE TABLE nursery_emergency (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    year_id UUID NOT NULL,
    station_id UUID NOT NULL,
    age_group TEXT NOT NULL,
    child_name TEXT NOT NULL,
    -- The social service's reference or the reason, for the record.
    reason TEXT NOT NULL,
    placed_at TIMESTAMPTZ NOT NULL,
    placed_by UUID NOT NULL,
    released_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX nursery_emergency_year ON nursery_emergency (tenant_id, year_id, station_id, age_group);
