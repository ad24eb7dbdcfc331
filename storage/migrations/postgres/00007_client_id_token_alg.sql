-- +goose Up
-- The client's id_token_signed_response_alg (RS256 or ES256; '' for the server's default), which its
-- access tokens follow too.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN id_token_signed_response_alg;
