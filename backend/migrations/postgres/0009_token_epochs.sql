-- Per-user token epoch. Every credential Tessera mints for a user (session
-- tokens, API keys) carries the epoch it was minted under and stops working
-- once the user's epoch changes: "sign out everywhere" draws a new one, and an
-- account deleted and made again is a new row with a new epoch.
ALTER TABLE users ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
-- Identity-provider tokens issued at or before this time (Unix seconds) are
-- refused for this user ("sign out everywhere").
ALTER TABLE users ADD COLUMN signed_out_at BIGINT;
ALTER TABLE api_keys ADD COLUMN user_epoch BIGINT NOT NULL DEFAULT 0;
-- Grants to users that no longer exist (deletion did not remove them).
DELETE FROM permissions WHERE subject_kind = 'user' AND subject_id NOT IN (SELECT id FROM users);
