-- Which identity provider a tenant's citizens and staff sign in with (names
-- of [identity.providers]); empty: the deployment's default provider.
ALTER TABLE tenants ADD COLUMN identity TEXT;
