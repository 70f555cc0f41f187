-- The keys that sign forward auth's identity assertions (issue 19): made by
-- Tessera, shared by every replica, rotated. The private key is sealed
-- (AES-256-GCM under a key derived from the session secret, bound to the
-- kid); the public half is derived from it when loaded. A key is published
-- from created_at, signs from sign_from, and is deleted once the next key
-- has signed for longer than the grace period.
CREATE TABLE assertion_keys (
    kid TEXT PRIMARY KEY,
    sealed_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sign_from INTEGER NOT NULL
);
