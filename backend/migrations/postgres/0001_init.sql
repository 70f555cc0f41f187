-- Users, their local passwords, and revoked session token ids: the schema of
-- ../sqlite/0001_init.sql in PostgreSQL's dialect. Text columns use the "C"
-- collation so comparisons and ORDER BY are byte-wise and case-sensitive,
-- exactly as SQLite's default BINARY collation, whatever the database's locale.
CREATE TABLE users (
    id                TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    email             TEXT COLLATE "C" NOT NULL,
    name              TEXT COLLATE "C" NOT NULL,
    role              TEXT COLLATE "C" NOT NULL CHECK (role IN ('admin', 'user', 'pending')),
    profile_image_url TEXT COLLATE "C" NOT NULL DEFAULT '',
    -- 'local', or the name of the issuer / provider that vouches for the user
    source            TEXT COLLATE "C" NOT NULL DEFAULT 'local',
    -- the subject at that issuer; NULL for local accounts
    subject           TEXT COLLATE "C",
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    -- insertion order, named like SQLite's implicit rowid so that the queries
    -- breaking ties of created_at by it are the same SQL on both databases
    rowid             BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX users_local_email ON users (email) WHERE source = 'local';
CREATE UNIQUE INDEX users_external_subject ON users (source, subject) WHERE subject IS NOT NULL;

CREATE TABLE passwords (
    user_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT COLLATE "C" NOT NULL
);

CREATE TABLE groups (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- A revoked token id stays here until the token itself would have expired
-- (forever when it never expires: expires_at NULL).
CREATE TABLE revoked_tokens (
    jti        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    expires_at BIGINT
);
