-- The audit log of security events (issue 20): sign-ins and their refusals,
-- sign-outs, exchanges, API keys, role and permission changes, deletions, SSO
-- settings, back-channel logouts. Names, addresses and short reasons only:
-- never a token, password or key. Rows older than `[audit] keep` are deleted.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    method TEXT,
    actor TEXT,
    account TEXT,
    ip TEXT,
    detail TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_action ON audit_events (action, id);
