-- SSO providers saved in the admin settings (they override or add to the
-- `[[oidc_providers]]` of the config file), and SSO identities linked to an
-- existing account by verified e-mail (`merge_accounts_by_email`).
CREATE TABLE oidc_providers (
    name          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    -- OidcProviderSettings as JSON, without the client secret
    settings      TEXT COLLATE "C" NOT NULL,
    client_secret TEXT COLLATE "C",
    updated_at    BIGINT NOT NULL
);

CREATE TABLE oidc_links (
    provider   TEXT COLLATE "C" NOT NULL,
    subject    TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
