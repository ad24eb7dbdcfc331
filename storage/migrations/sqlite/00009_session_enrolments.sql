-- +goose Up
-- A pending TOTP secret is bound either to a sign-in (auth request) or to a browser's SSO session
-- (setting up or replacing an authenticator app on the account page); exactly one of the two, and at
-- most one per session. A session's secret goes with it (sign-out, a password change, a reset).
-- SQLite cannot drop a NOT NULL: the table is rebuilt (nothing references it), keeping the rows.
CREATE TABLE pending_enrolments_new (
    id               TEXT PRIMARY KEY,
    auth_request_id  TEXT UNIQUE REFERENCES auth_requests(id) ON DELETE CASCADE,
    session_id       TEXT UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_sealed    BLOB NOT NULL,
    created_at       DATETIME NOT NULL,
    CHECK ((auth_request_id IS NULL) <> (session_id IS NULL))
);
INSERT INTO pending_enrolments_new (id, auth_request_id, user_id, tenant_id, secret_sealed, created_at)
    SELECT id, auth_request_id, user_id, tenant_id, secret_sealed, created_at FROM pending_enrolments;
DROP TABLE pending_enrolments;
ALTER TABLE pending_enrolments_new RENAME TO pending_enrolments;
CREATE INDEX pending_enrolments_user ON pending_enrolments (user_id);

-- +goose Down
CREATE TABLE pending_enrolments_old (
    id               TEXT PRIMARY KEY,
    auth_request_id  TEXT NOT NULL UNIQUE REFERENCES auth_requests(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_sealed    BLOB NOT NULL,
    created_at       DATETIME NOT NULL
);
INSERT INTO pending_enrolments_old (id, auth_request_id, user_id, tenant_id, secret_sealed, created_at)
    SELECT id, auth_request_id, user_id, tenant_id, secret_sealed, created_at FROM pending_enrolments
    WHERE auth_request_id IS NOT NULL;
DROP TABLE pending_enrolments;
ALTER TABLE pending_enrolments_old RENAME TO pending_enrolments;
CREATE INDEX pending_enrolments_user ON pending_enrolments (user_id);
