-- The municipality's nursery stations, its school years (registration
-- window and the dates that follow) and the places each station offers
-- per age group in a year. Tenant-owned: tenant_id leads every key.
CREATE TABLE nursery_stations (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX nursery_stations_name ON nursery_stations (tenant_id, name);

CREATE TABLE nursery_years (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    -- '2027-2028'
    label TEXT NOT NULL,
    starts_on DATE NOT NULL,
    opens_on DATE NOT NULL,
    closes_on DATE NOT NULL,
    results_on DATE NOT NULL,
    objections_until DATE NOT NULL,
    -- Days a family has to accept an offered place.
    accept_days INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX nursery_years_label ON nursery_years (tenant_id, label);

-- Places per station per age group in a year; reserved places are kept for
-- emergency social cases and not offered by the placement run.
CREATE TABLE nursery_places (
    tenant_id UUID NOT NULL,
    year_id UUID NOT NULL,
    station_id UUID NOT NULL,
    age_group TEXT NOT NULL,
    places INTEGER NOT NULL,
    reserved INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, year_id, station_id, age_group),
    CHECK (places >= 0 AND reserved >= 0 AND reserved <= places)
);
