-- Permissions granted to a user or to a group's members, and API keys (one
-- active key per user, stored only as a keyed hash).
CREATE TABLE permissions (
    subject_kind TEXT COLLATE "C" NOT NULL CHECK (subject_kind IN ('user', 'group')),
    subject_id   TEXT COLLATE "C" NOT NULL,
    permission   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, permission)
);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    prefix       TEXT COLLATE "C" NOT NULL,
    -- HMAC-SHA256 of the whole key under the server's API-key secret, hex
    digest       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
