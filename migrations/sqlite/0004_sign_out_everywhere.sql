-- "Sign out everywhere": sessions signed in before this moment no longer count.
ALTER TABLE accounts ADD COLUMN signed_out_at TEXT;
