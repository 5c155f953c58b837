-- The task queues (roles) a public API client works, as a member of staff
-- holding those roles would: its scopes say what it may do, its roles which
-- tasks are offered to it.
ALTER TABLE api_clients ADD COLUMN roles JSONB NOT NULL DEFAULT '[]';
