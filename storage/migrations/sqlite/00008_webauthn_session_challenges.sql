-- +goose Up
-- A ceremony's challenge is bound either to a sign-in (auth request) or to a browser's SSO session
-- (adding a key from the account page); exactly one of the two. A session's challenge goes with it
-- (sign-out, a password change or a key removal ends the ceremony too). SQLite cannot drop a NOT NULL:
-- the table is rebuilt (nothing references it), keeping the ceremonies in flight.
CREATE TABLE webauthn_challenges_new (
    id               TEXT PRIMARY KEY,
    auth_request_id  TEXT REFERENCES auth_requests(id) ON DELETE CASCADE,
    session_id       TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    purpose          TEXT NOT NULL,
    user_id          TEXT NOT NULL DEFAULT '',
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_data     TEXT NOT NULL,
    expires_at       DATETIME NOT NULL,
    UNIQUE (auth_request_id, purpose),
    UNIQUE (session_id, purpose),
    CHECK ((auth_request_id IS NULL) <> (session_id IS NULL))
);
INSERT INTO webauthn_challenges_new (id, auth_request_id, purpose, user_id, tenant_id, session_data, expires_at)
    SELECT id, auth_request_id, purpose, user_id, tenant_id, session_data, expires_at FROM webauthn_challenges;
DROP TABLE webauthn_challenges;
ALTER TABLE webauthn_challenges_new RENAME TO webauthn_challenges;
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);

-- +goose Down
CREATE TABLE webauthn_challenges_old (
    id               TEXT PRIMARY KEY,
    auth_request_id  TEXT NOT NULL REFERENCES auth_requests(id) ON DELETE CASCADE,
    purpose          TEXT NOT NULL,
    user_id          TEXT NOT NULL DEFAULT '',
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_data     TEXT NOT NULL,
    expires_at       DATETIME NOT NULL,
    UNIQUE (auth_request_id, purpose)
);
INSERT INTO webauthn_challenges_old (id, auth_request_id, purpose, user_id, tenant_id, session_data, expires_at)
    SELECT id, auth_request_id, purpose, user_id, tenant_id, session_data, expires_at FROM webauthn_challenges
    WHERE auth_request_id IS NOT NULL;
DROP TABLE webauthn_challenges;
ALTER TABLE webauthn_challenges_old RENAME TO webauthn_challenges;
