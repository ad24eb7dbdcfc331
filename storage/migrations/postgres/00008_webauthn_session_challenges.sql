-- +goose Up
-- A ceremony's challenge is bound either to a sign-in (auth request) or to a browser's SSO session
-- (adding a key from the account page); exactly one of the two. A session's challenge goes with it
-- (sign-out, a password change or a key removal ends the ceremony too).
ALTER TABLE webauthn_challenges ALTER COLUMN auth_request_id DROP NOT NULL;
ALTER TABLE webauthn_challenges ADD COLUMN session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE;
ALTER TABLE webauthn_challenges ADD CONSTRAINT webauthn_challenges_one_binding
    CHECK ((auth_request_id IS NULL) <> (session_id IS NULL));
CREATE UNIQUE INDEX webauthn_challenges_session ON webauthn_challenges (session_id, purpose);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);

-- +goose Down
DROP INDEX webauthn_challenges_expires;
DELETE FROM webauthn_challenges WHERE session_id IS NOT NULL;
DROP INDEX webauthn_challenges_session;
ALTER TABLE webauthn_challenges DROP CONSTRAINT webauthn_challenges_one_binding;
ALTER TABLE webauthn_challenges DROP COLUMN session_id;
ALTER TABLE webauthn_challenges ALTER COLUMN auth_request_id SET NOT NULL;
