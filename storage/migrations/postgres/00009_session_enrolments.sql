-- +goose Up
-- A pending TOTP secret is bound either to a sign-in (auth request) or to a browser's SSO session
-- (setting up or replacing an authenticator app on the account page); exactly one of the two, and at
-- most one per session. A session's secret goes with it (sign-out, a password change, a reset).
ALTER TABLE pending_enrolments ALTER COLUMN auth_request_id DROP NOT NULL;
ALTER TABLE pending_enrolments ADD COLUMN session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE;
ALTER TABLE pending_enrolments ADD CONSTRAINT pending_enrolments_one_binding
    CHECK ((auth_request_id IS NULL) <> (session_id IS NULL));
CREATE UNIQUE INDEX pending_enrolments_session ON pending_enrolments (session_id);

-- +goose Down
DELETE FROM pending_enrolments WHERE session_id IS NOT NULL;
DROP INDEX pending_enrolments_session;
ALTER TABLE pending_enrolments DROP CONSTRAINT pending_enrolments_one_binding;
ALTER TABLE pending_enrolments DROP COLUMN session_id;
ALTER TABLE pending_enrolments ALTER COLUMN auth_request_id SET NOT NULL;
