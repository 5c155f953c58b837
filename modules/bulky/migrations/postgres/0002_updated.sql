-- When a request last changed (booked, moved, closed): Open311's
-- updated_datetime. Rows from before are taken as changed when closed,
-- else when made.
ALTER TABLE bulky_requests ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE bulky_requests SET updated_at = COALESCE(closed_at, created_at);
