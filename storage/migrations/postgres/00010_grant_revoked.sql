-- +goose Up
-- When the grant that this sign-in's code started was revoked (a replay of the code, reuse of a spent
-- refresh token, RFC 7009 revocation): the code exchange stores its tokens only while this is NULL, so
-- a replay that overtakes the first exchange still leaves nothing behind (RFC 6749 §4.1.2).
ALTER TABLE auth_requests ADD COLUMN grant_revoked_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE auth_requests DROP COLUMN grant_revoked_at;
